package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
)

func newRollbackCmd(opts *globalOptions) *cobra.Command {
	var noStart bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return to the install the last upgrade replaced",
		Long: "rollback stops k3s, swaps back the previous install kept under /var/lib/ferry/previous/ (keeping the\n" +
			"current one in its turn, so a second rollback returns to it), starts k3s and waits for the node. If\n" +
			"that node is not Ready within --timeout, the current install is put back and restarted, and rollback\n" +
			"exits 5.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			host, err := installer.NewLocalHost(opts.Root)
			if err != nil {
				return err
			}
			ro := installer.RollbackOptions{RunOptions: runOptions(cmd, opts, host, timeout)}
			if !noStart {
				svc, err := serviceFor(ctx, host, opts.Root, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				ro.Service = svc
			}
			res, err := installer.Rollback(ctx, ro)
			if err != nil {
				return err
			}
			if opts.JSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), res)
			}
			verb := "rolled back"
			if res.DryRun {
				verb = "dry run: nothing was changed; would roll back"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s from %s %s to %s %s; %s %s is kept: 'ferry-install rollback' returns to it\n",
				verb, res.From.Name, res.From.Version, res.To.Name, res.To.Version, res.From.Name, res.From.Version)
			return err
		},
	}
	cmd.Flags().BoolVar(&noStart, "no-start", false, "swap the files only: do not stop, start or wait for k3s")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the node to be Ready")
	return cmd
}

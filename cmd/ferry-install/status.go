package main

import (
	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/installer/service"
)

func newStatusCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the installed bundle, k3s version, service state, node readiness and the kept previous install",
		Long: "status reads /var/lib/ferry/state.json and reports the installed bundle (name, version, digest of\n" +
			"bundle.json, signer key id, install time), the role, the installed binary's k3s --version, the\n" +
			"service's state, whether the node is Ready, and whether a previous install is kept for rollback.\n" +
			"It changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, err := installer.NewLocalHost(opts.Root)
			if err != nil {
				return err
			}
			so := installer.StatusOptions{Host: host}
			if m, err := service.Detect(opts.Root); err == nil {
				so.Manager = m
			}
			st, err := installer.ReadStatus(cmd.Context(), so)
			if err != nil {
				return err
			}
			if opts.JSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), st)
			}
			return st.WriteText(cmd.OutOrStdout())
		},
	}
}

package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/installer/service"
)

func newUninstallCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Stop k3s and remove exactly what ferry-install placed",
		Long: "uninstall stops and disables k3s (when ferry started it), removes every file listed in\n" +
			"/var/lib/ferry/state.json, moves back any file an install replaced, removes the directories ferry\n" +
			"created when they are empty, then state.json. Nothing else is touched; k3s's data directory stays.\n" +
			"A listed path outside the places ferry writes, a file changed since ferry placed it, or a backup\n" +
			"recorded outside /var/lib/ferry/backup is kept and reported (exit 1), never removed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, err := installer.NewLocalHost(opts.Root)
			if err != nil {
				return err
			}
			uo := installer.UninstallOptions{RunOptions: runOptions(cmd, opts, host, 0)}
			if m, err := service.Detect(opts.Root); err == nil {
				uo.Service = &installer.ManagedService{Manager: m, Root: opts.Root}
			}
			st, err := installer.Uninstall(cmd.Context(), uo)
			// A *KeptError comes after a complete uninstall: report both.
			var kept *installer.KeptError
			if err != nil && !errors.As(err, &kept) {
				return err
			}
			if opts.JSON {
				out := map[string]any{"uninstalled": !opts.DryRun, "dryRun": opts.DryRun, "bundle": st.Bundle, "files": len(st.Files)}
				if kept != nil {
					out["kept"] = kept.Kept
				}
				if werr := bundle.WriteJSON(cmd.OutOrStdout(), out); werr != nil {
					return werr
				}
				return err
			}
			verb := "removed"
			if opts.DryRun {
				verb = "would remove"
			}
			if _, werr := fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s: %d files\n", verb, st.Bundle.Name, st.Bundle.Version, len(st.Files)); werr != nil {
				return werr
			}
			return err
		},
	}
}

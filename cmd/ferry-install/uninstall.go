package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by its owner.
func newUninstallCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "(not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("uninstall: not implemented yet") },
	}
}

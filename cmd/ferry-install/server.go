package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by its owner.
func newServerCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "(not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("server: not implemented yet") },
	}
}

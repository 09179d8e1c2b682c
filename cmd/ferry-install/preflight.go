package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by its owner.
func newPreflightCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "preflight",
		Short: "(not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("preflight: not implemented yet") },
	}
}

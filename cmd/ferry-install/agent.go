package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Placeholder: replaced by its owner.
func newAgentCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "agent",
		Short: "(not yet available)",
		RunE:  func(*cobra.Command, []string) error { return errors.New("agent: not implemented yet") },
	}
}

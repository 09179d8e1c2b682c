package main

import (
	"github.com/spf13/cobra"

	ferry "github.com/ferry-k3s/ferry"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print bundle.schema.json, the JSON Schema of ferry.yaml (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(ferry.Schema)
			return err
		},
	}
}

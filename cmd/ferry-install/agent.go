package main

import (
	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/manifests"
)

func newAgentCmd(opts *globalOptions) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Install this host as a k3s agent joining a server",
		Long: "agent verifies the bundle into a staging directory, places k3s, images and configuration, records\n" +
			"/var/lib/ferry/state.json, then starts k3s-agent and waits for the node. A failure undoes every change.",
		Example: "  ferry-install agent --bundle edge.ferry --key ferry.pub --server https://10.0.0.1:6443 --token T",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installNode(cmd, opts, f, manifests.RoleAgent)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.Join, "server", "", "URL of a server to join: https://ADDR:6443 (required)")
	f.bindCommon(fs)
	return cmd
}

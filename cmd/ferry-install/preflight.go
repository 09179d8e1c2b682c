package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/preflight"
)

// preflightOptions are the flags of ferry-install preflight.
type preflightOptions struct {
	ClusterInit bool
	Join        string
}

func newPreflightCmd(opts *globalOptions) *cobra.Command {
	po := &preflightOptions{}
	cmd := &cobra.Command{
		Use:   "preflight server|agent",
		Short: "Check this host for a k3s server or agent, changing nothing",
		Long: "preflight checks the OS, CPU and memory, free disk for the bundle, free ports, swap, firewalls, time\n" +
			"sync, hostname, default route, nameservers, kernel modules, cgroups, SELinux, an existing k3s and\n" +
			"Longhorn's needs, and prints PASS/WARN/FAIL with the fix for each. It exits non-zero when a check\n" +
			"FAILs. --bundle is optional: with it, only the bundle's signed manifest is read.",
		Example: "  ferry-install preflight server --bundle factory-edge.ferry --key ferry.pub --cluster-init\n  ferry-install preflight agent --json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("preflight: name one role to check: ferry-install preflight server|agent")
			}
			return nil
		},
		ValidArgs: []string{preflight.RoleServer, preflight.RoleAgent},
		RunE: func(cmd *cobra.Command, args []string) error {
			role := args[0]
			if role != preflight.RoleServer && role != preflight.RoleAgent {
				return fmt.Errorf("preflight: unknown role %q: use server or agent", role)
			}
			if role == preflight.RoleAgent && (po.ClusterInit || po.Join != "") {
				return fmt.Errorf("preflight agent: --cluster-init and --join are for servers: drop them or check a server")
			}
			m, err := preflightManifest(cmd, opts)
			if err != nil {
				return err
			}
			_, err = checkHost(cmd, opts, preflight.Options{
				Role:         role,
				Manifest:     m,
				EmbeddedEtcd: po.ClusterInit || po.Join != "",
			})
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&po.ClusterInit, "cluster-init", false, "the server will start an HA cluster with embedded etcd: ports 2379-2380 must be free too")
	f.StringVar(&po.Join, "join", "", "the server will join the HA cluster at this URL (https://ADDR:6443): ports 2379-2380 must be free too")
	return cmd
}

// preflightManifest reads only the signed manifest of --bundle, or returns
// nil when no bundle was given.
func preflightManifest(cmd *cobra.Command, opts *globalOptions) (*bundle.Manifest, error) {
	if opts.Bundle == "" {
		return nil, nil
	}
	ropts, err := opts.trust.Load(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	f, err := bundle.Open(cmd.Context(), opts.Bundle, ropts...)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := bundle.NewReader(cmd.Context(), f, ropts...)
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", opts.Bundle, err)
	}
	defer r.Close()
	return r.Manifest(), nil
}

// checkHost runs the preflight checks against --root, prints the report on
// stdout (a table, or JSON with --json) and returns an error wrapping
// preflight.ErrPreflight when a check failed. The install commands use it
// as their preflight phase; po's Root and AlternateRoot are set here.
func checkHost(cmd *cobra.Command, opts *globalOptions, po preflight.Options) (*preflight.Report, error) {
	po.Root = opts.Root
	po.AlternateRoot = filepath.Clean(opts.Root) != "/"
	report, err := preflight.Run(cmd.Context(), po)
	if err != nil {
		return nil, err
	}
	out := cmd.OutOrStdout()
	if opts.JSON {
		err = bundle.WriteJSON(out, report)
	} else {
		err = report.WriteTable(out)
	}
	if err != nil {
		return report, err
	}
	return report, report.Err()
}

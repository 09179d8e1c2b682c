package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/installer/preflight"
	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// installFlags are the flags of ferry-install server and agent.
type installFlags struct {
	ClusterInit       bool
	Join              string // server --join, agent --server
	Token             string
	TokenFile         string
	DatastoreEndpoint string
	TLSSANs           []string
	NodeLabels        []string
	NodeTaints        []string
	Config            string
	RegistryMirrors   []string
	Values            []string
	Sets              []string
	NoStart           bool
	SkipPreflight     bool
	Timeout           time.Duration
}

func (f *installFlags) bindCommon(fs *pflag.FlagSet) {
	fs.StringVar(&f.Token, "token", "", "cluster token (required to join; a first server generates one when empty)")
	fs.StringVar(&f.TokenFile, "token-file", "", "read the cluster token from this file instead of --token (keeps it off the command line)")
	fs.StringSliceVar(&f.NodeLabels, "node-label", nil, "node label key=value (repeatable)")
	fs.StringSliceVar(&f.NodeTaints, "node-taint", nil, "node taint key=value:Effect (repeatable)")
	fs.StringVar(&f.Config, "config", "", "YAML file of extra k3s flags merged into config.yaml")
	fs.StringSliceVar(&f.RegistryMirrors, "registry-mirror", nil, "site registry host[:port] mirroring every upstream registry (repeatable)")
	fs.StringArrayVar(&f.Values, "values", nil, "site values for a chart: CHART=FILE (YAML; repeatable, later files win)")
	fs.StringArrayVar(&f.Sets, "set", nil, "one site value: CHART.KEY=VALUE (true/false/integers are typed; repeatable)")
	fs.BoolVar(&f.NoStart, "no-start", false, "place everything but do not enable or start k3s")
	fs.BoolVar(&f.SkipPreflight, "skip-preflight", false, "install even when a preflight check FAILs")
	fs.DurationVar(&f.Timeout, "timeout", 5*time.Minute, "how long to wait for the node to be Ready")
}

func newServerCmd(opts *globalOptions) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Install this host as a k3s server from the bundle",
		Long: "server verifies the bundle into a staging directory, places k3s, images, charts and configuration,\n" +
			"records /var/lib/ferry/state.json, then starts k3s and waits for the node. A failure undoes every\n" +
			"change. A first server without --token gets a generated one; the join commands for further nodes\n" +
			"are printed at the end.",
		Example: "  ferry-install server --bundle edge.ferry --key ferry.pub --cluster-init --tls-san 10.0.0.1\n" +
			"  ferry-install server --bundle edge.ferry --key ferry.pub --join https://10.0.0.1:6443 --token T",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return installNode(cmd, opts, f, manifests.RoleServer)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&f.ClusterInit, "cluster-init", false, "start a new HA cluster with embedded etcd")
	fs.StringVar(&f.Join, "join", "", "join the HA cluster of this server: https://ADDR:6443 (needs --token)")
	fs.StringVar(&f.DatastoreEndpoint, "datastore-endpoint", "", "external datastore URI (MySQL, Postgres, etcd)")
	fs.StringSliceVar(&f.TLSSANs, "tls-san", nil, "extra name or address on the server certificate (repeatable)")
	f.bindCommon(fs)
	cmd.MarkFlagsMutuallyExclusive("cluster-init", "join", "datastore-endpoint")
	return cmd
}

// installNode turns the flags into installer.InstallOptions and installs.
func installNode(cmd *cobra.Command, opts *globalOptions, f *installFlags, role manifests.Role) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel() // ends the progress printer
	stderr := cmd.ErrOrStderr()
	if err := f.readTokenFile(); err != nil {
		return err
	}
	node := manifests.Node{Role: role, ClusterInit: f.ClusterInit, Server: f.Join, Token: f.Token,
		DatastoreEndpoint: f.DatastoreEndpoint, TLSSANs: f.TLSSANs, NodeLabels: f.NodeLabels,
		NodeTaints: f.NodeTaints, RegistryMirrors: f.RegistryMirrors}
	if f.Config != "" {
		b, err := readSiteFile("--config", f.Config)
		if err != nil {
			return err
		}
		if err := yaml.Unmarshal(b, &node.Extra); err != nil {
			return fmt.Errorf("--config %s: not a YAML mapping of k3s flags: %w", f.Config, err)
		}
	}
	site, err := siteValues(f)
	if err != nil {
		return err
	}
	tg, err := openTarget(cmd.Context(), opts, stderr)
	if err != nil {
		return err
	}
	defer tg.close()
	host := tg.host
	iopts := installer.InstallOptions{
		RunOptions: runOptions(cmd, opts, host, f.Timeout),
		Bundle:     tg.bundle, ReadOptions: tg.ropts,
		Node: node, SiteValues: site,
		Preflight: preflightFunc(opts, f, role, stderr),
	}
	if !f.NoStart {
		svc, err := newService(ctx, opts.Root, role, stderr)
		if err != nil {
			return err
		}
		iopts.Service = svc
		if svc.Name() == installer.InitOpenRC {
			iopts.Init = installer.InitOpenRC
		}
	}
	res, err := installer.Install(ctx, iopts)
	if err != nil {
		return fmt.Errorf("install from %s: %w", opts.Bundle, err)
	}
	return printInstall(cmd.OutOrStdout(), opts, res, host, node.TLSSANs)
}

// readTokenFile sets Token from --token-file: the file's content without
// surrounding white space.
func (f *installFlags) readTokenFile() error {
	if f.TokenFile == "" {
		return nil
	}
	if f.Token != "" {
		return fmt.Errorf("--token and --token-file: give the token once")
	}
	b, err := readSiteFile("--token-file", f.TokenFile)
	if err != nil {
		return err
	}
	f.Token = strings.TrimSpace(string(b))
	if f.Token == "" {
		return fmt.Errorf("--token-file %s is empty", f.TokenFile)
	}
	return nil
}

// siteValues reads --values files and applies --set in order.
func siteValues(f *installFlags) (installer.SiteValues, error) {
	site := installer.SiteValues{}
	for _, v := range f.Values {
		chart, file, err := installer.ParseValuesFlag(v)
		if err != nil {
			return nil, fmt.Errorf("--values: %w", err)
		}
		b, err := readSiteFile("--values", file)
		if err != nil {
			return nil, err
		}
		if err := site.AddYAML(chart, b); err != nil {
			return nil, fmt.Errorf("--values %s: %w", v, err)
		}
	}
	for _, s := range f.Sets {
		if err := site.Set(s); err != nil {
			return nil, fmt.Errorf("--set: %w", err)
		}
	}
	return site, nil
}

// preflightFunc runs the preflight checks, printing the table on stderr.
// With --skip-preflight, FAILs are printed but do not stop the install.
func preflightFunc(opts *globalOptions, f *installFlags, role manifests.Role, stderr io.Writer) func(context.Context, *bundle.Manifest) error {
	return func(ctx context.Context, m *bundle.Manifest) error {
		report, err := preflight.Run(ctx, preflight.Options{
			Root: opts.Root, AlternateRoot: filepath.Clean(opts.Root) != "/", Role: string(role), Manifest: m,
			EmbeddedEtcd: role == manifests.RoleServer && (f.ClusterInit || f.Join != ""),
		})
		if err != nil {
			return err
		}
		report.WriteTable(stderr)
		if err := report.Err(); err != nil {
			if f.SkipPreflight {
				fmt.Fprintf(stderr, "WARNING: --skip-preflight: going on despite: %v\n", err)
				return nil
			}
			return err
		}
		return nil
	}
}

// printInstall prints the result and the join commands, or JSON.
func printInstall(w io.Writer, opts *globalOptions, res *installer.InstallResult, host installer.Host, sans []string) error {
	addr := installer.NodeAddress(context.Background(), host, sans)
	server, agent := res.JoinCommands(installer.JoinOptions{Address: addr, Bundle: orPlaceholder(opts.Bundle, "BUNDLE"), Key: orPlaceholder(opts.Key, "ferry.pub")})
	if opts.JSON {
		return bundle.WriteJSON(w, struct {
			*installer.InstallResult
			JoinServer string `json:"joinServer,omitempty"`
			JoinAgent  string `json:"joinAgent,omitempty"`
		}{res, server, agent})
	}
	if res.DryRun {
		fmt.Fprintf(w, "dry run: nothing was changed\n")
		return nil
	}
	fmt.Fprintf(w, "installed %s %s as a k3s %s (%d files)\n", res.Bundle, res.Version, res.Role, res.Files)
	if !res.Started {
		fmt.Fprintf(w, "k3s was not started (--no-start): start it with systemctl enable --now %s\n", serviceName(res.Role))
	}
	if server != "" {
		fmt.Fprintf(w, "\nadd a server (one at a time):\n  %s\n", server)
	}
	if agent != "" {
		fmt.Fprintf(w, "\nadd an agent:\n  %s\n", agent)
	}
	return nil
}

// dryRunOutput is stdout, or stderr when stdout carries --json.
func dryRunOutput(cmd *cobra.Command, opts *globalOptions) io.Writer {
	if opts.JSON {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

func serviceName(role string) string {
	return manifests.Node{Role: manifests.Role(role)}.ServiceName()
}

func orPlaceholder(s, p string) string {
	if s == "" {
		return p
	}
	return s
}

// newService detects the init system under root and reports the wait's
// progress on stderr.
func newService(ctx context.Context, root string, role manifests.Role, stderr io.Writer) (*installer.ManagedService, error) {
	m, err := service.Detect(root)
	if err != nil {
		return nil, err
	}
	progress := make(chan service.WaitProgress)
	go func() {
		last := ""
		for {
			select {
			case p := <-progress:
				if p.Message != last {
					fmt.Fprintf(stderr, "  [%s] %s\n", p.Elapsed.Round(time.Second), p.Message)
					last = p.Message
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return &installer.ManagedService{Manager: m, Root: root, Role: role, Progress: progress}, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
)

// upgradeFlags are the flags of ferry-install upgrade.
type upgradeFlags struct {
	AllowDowngrade bool
	Reinstall      bool
	Config         string
	Values         []string
	Sets           []string
	NoStart        bool
	Timeout        time.Duration
}

func newUpgradeCmd(opts *globalOptions) *cobra.Command {
	f := &upgradeFlags{}
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Upgrade the installed k3s from a newer bundle, rolling back if the node does not come back",
		Long: "upgrade verifies the whole new bundle into a staging directory before it changes anything, then stops\n" +
			"k3s, swaps in the new binary, images, charts and manifests (keeping the previous ones under\n" +
			"/var/lib/ferry/previous/), starts k3s and waits for the node to be Ready. If it is not Ready within\n" +
			"--timeout, the previous files are put back, k3s is restarted and waited for again, and upgrade exits 5.\n" +
			"config.yaml, the token and the site values carry over; --config replaces the extra k3s flags, and\n" +
			"--values/--set are merged over the kept site values. An older or the same bundle is refused unless\n" +
			"--allow-downgrade or --reinstall. Upgrade cluster nodes one at a time: servers first, then agents.",
		Example: "  ferry-install upgrade --bundle edge-1.5.0.ferry --key ferry.pub\n" +
			"  ferry-install upgrade --bundle edge-1.5.0.ferry --key ferry.pub --set nfs.nfs.server=10.0.0.9",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUpgrade(cmd, opts, f)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&f.AllowDowngrade, "allow-downgrade", false, "accept a bundle older than the installed one")
	fs.BoolVar(&f.Reinstall, "reinstall", false, "accept the installed version again, or a bundle of another name")
	fs.StringVar(&f.Config, "config", "", "YAML file of extra k3s flags: config.yaml is rendered anew with them (default: keep config.yaml)")
	fs.StringArrayVar(&f.Values, "values", nil, "site values for a chart: CHART=FILE, merged over the kept ones (repeatable)")
	fs.StringArrayVar(&f.Sets, "set", nil, "one site value: CHART.KEY=VALUE, merged over the kept ones (repeatable)")
	fs.BoolVar(&f.NoStart, "no-start", false, "swap the files only: do not stop, start or wait for k3s")
	fs.DurationVar(&f.Timeout, "timeout", 5*time.Minute, "how long to wait for the node to be Ready (again after a rollback)")
	return cmd
}

func runUpgrade(cmd *cobra.Command, opts *globalOptions, f *upgradeFlags) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel() // ends the progress printer
	stderr := cmd.ErrOrStderr()
	site, err := siteValues(&installFlags{Values: f.Values, Sets: f.Sets})
	if err != nil {
		return err
	}
	var config map[string]any
	if f.Config != "" {
		b, err := readSiteFile("--config", f.Config)
		if err != nil {
			return err
		}
		if err := yaml.Unmarshal(b, &config); err != nil {
			return fmt.Errorf("--config %s: not a YAML mapping of k3s flags: %w", f.Config, err)
		}
		if config == nil {
			config = map[string]any{}
		}
	}
	tg, err := openTarget(cmd.Context(), opts, stderr)
	if err != nil {
		return err
	}
	defer tg.close()
	host := tg.host
	uo := installer.UpgradeOptions{
		RunOptions: runOptions(cmd, opts, host, f.Timeout),
		Bundle:     tg.bundle, ReadOptions: tg.ropts, AllowDowngrade: f.AllowDowngrade, Reinstall: f.Reinstall, SiteValues: site, Config: config,
	}
	if !f.NoStart {
		svc, err := serviceFor(ctx, host, opts.Root, stderr)
		if err != nil {
			return err
		}
		uo.Service = svc
	}
	res, err := installer.Upgrade(ctx, uo)
	if err != nil {
		return fmt.Errorf("upgrade from %s: %w", opts.Bundle, err)
	}
	if opts.JSON {
		return bundle.WriteJSON(cmd.OutOrStdout(), res)
	}
	verb := "upgraded"
	if res.DryRun {
		verb = "dry run: nothing was changed; would upgrade"
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s to %s %s (%d files); %s %s is kept: 'ferry-install rollback' returns to it\n",
		verb, res.From.Name, res.From.Version, res.To.Name, res.To.Version, res.Files, res.From.Name, res.From.Version)
	return err
}

// serviceFor is the service of the installed node's role; nil when nothing
// is installed (the installer then says so).
func serviceFor(ctx context.Context, host installer.Host, root string, stderr io.Writer) (installer.Service, error) {
	st, err := installer.ReadState(ctx, host)
	if errors.Is(err, installer.ErrNotInstalled) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	svc, err := newService(ctx, root, st.Role, stderr)
	if err != nil {
		return nil, err
	}
	return svc, nil
}

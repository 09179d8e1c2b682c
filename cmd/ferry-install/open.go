package main

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/cmd/internal/bundlecmd"
	"github.com/ferry-k3s/ferry/installer"
)

// target is what install and upgrade act on: the host under --root and
// the bundle stream with the reader options of --key.
type target struct {
	host   *installer.LocalHost
	bundle io.Reader
	ropts  []bundle.ReadOption
	close  func() error
}

// openTarget opens the host and the bundle named by the global flags. The
// bundle is opened with its side files under the rule verify applies
// (bundle.Open), so an install decides as verify does.
func openTarget(ctx context.Context, opts *globalOptions, stderr io.Writer) (*target, error) {
	host, err := installer.NewLocalHost(opts.Root)
	if err != nil {
		return nil, err
	}
	ropts, err := opts.trust.Load(stderr)
	if err != nil {
		return nil, err
	}
	if opts.Bundle == "" {
		return nil, errNoBundle
	}
	prog := bundlecmd.NewProgress(stderr, opts.JSON)
	f, err := bundle.Open(ctx, opts.Bundle, append(ropts, prog.Options()...)...)
	if err != nil {
		return nil, err
	}
	closeAll := func() error { prog.Done(); return f.Close() }
	return &target{host: host, bundle: f, ropts: ropts, close: closeAll}, nil
}

// runOptions are the installer options every host command shares, from
// the global flags: host, timeout (0: the installer's default), dry run
// and the log on stderr.
func runOptions(cmd *cobra.Command, opts *globalOptions, host installer.Host, timeout time.Duration) installer.RunOptions {
	return installer.RunOptions{Host: host, Timeout: timeout, DryRun: opts.DryRun, DryRunOutput: dryRunOutput(cmd, opts), Log: cmd.ErrOrStderr()}
}

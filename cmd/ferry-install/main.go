// Command ferry-install verifies a Ferry bundle on a disconnected host and
// installs it as a k3s server, agent or HA cluster member. It is built
// static (CGO_ENABLED=0) and never opens a network connection other than
// to the local k3s API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/cmd/internal/bundlecmd"
)

// globalOptions are the flags every ferry-install command shares.
type globalOptions struct {
	Bundle                string
	Key                   string
	Root                  string
	DryRun                bool
	JSON                  bool
	InsecureSkipSignature bool

	trust bundlecmd.Trust
}

// bundlePath is the bundle named by the first argument, else --bundle.
func (o *globalOptions) bundlePath(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return o.Bundle
}

func newRootCmd() *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:           "ferry-install",
		Short:         "Verify a Ferry bundle and install k3s from it, offline",
		Long:          "ferry-install verifies a signed Ferry bundle and turns this host into a k3s server, agent or HA\ncluster member. It needs no network: everything comes from the bundle.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&opts.Bundle, "bundle", "", "bundle file, or the first part (NAME.part001) of a split bundle")
	f.StringVar(&opts.trust.Key, "key", "", "public key (PEM) of the bundle's signer, e.g. ferry.pub")
	f.StringVar(&opts.Root, "root", "/", "install into this root directory instead of / (e.g. a disk image being prepared)")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print every file that would be written and every command that would run; change nothing")
	f.BoolVar(&opts.JSON, "json", false, "print results as JSON on stdout")
	f.BoolVar(&opts.trust.InsecureSkipSignature, "insecure-skip-signature", false, "accept a bundle without checking its signature (INSECURE)")
	// Key and InsecureSkipSignature mirror trust for commands that read them.
	root.PersistentPreRun = func(*cobra.Command, []string) {
		opts.Key, opts.InsecureSkipSignature = opts.trust.Key, opts.trust.InsecureSkipSignature
	}
	root.AddCommand(
		bundlecmd.NewVerifyCmd(&opts.trust, opts.bundlePath, &opts.JSON),
		bundlecmd.NewInspectCmd(&opts.trust, opts.bundlePath, &opts.JSON),
		newPreflightCmd(opts),
		newServerCmd(opts),
		newAgentCmd(opts),
		newUninstallCmd(opts),
		newUpgradeCmd(opts),
		newRollbackCmd(opts),
		newStatusCmd(opts),
		newDeployCmd(opts),
	)
	return root
}

// errNoBundle is the refusal of a command that reads a bundle and got none.
var errNoBundle = errors.New("no bundle given: pass --bundle FILE (or the first part, NAME.part001)")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry-install:", bundlecmd.Hint(err))
		os.Exit(exitCode(err))
	}
}

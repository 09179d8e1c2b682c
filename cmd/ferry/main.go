// Command ferry builds signed air-gap bundles for k3s on a connected
// machine: the k3s binary and airgap images, Helm charts, the images they
// run and config templates, in one zstd-compressed, signed file that
// ferry-install verifies and installs offline.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/cmd/internal/bundlecmd"
)

// globalOptions are flags every ferry command shares.
type globalOptions struct {
	JSON  bool
	Quiet bool
}

func newRootCmd() *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:   "ferry",
		Short: "Build signed air-gap bundles for k3s",
		Long: "ferry pulls the k3s binary and airgap images, Helm charts, the images those charts run and config\n" +
			"templates into one signed zstd bundle, which ferry-install verifies and installs on hosts with no network.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&opts.JSON, "json", false, "print results as JSON on stdout")
	root.PersistentFlags().BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress output")
	trust := &bundlecmd.Trust{}
	verify := bundlecmd.NewVerifyCmd(trust, firstArg, &opts.JSON)
	inspect := bundlecmd.NewInspectCmd(trust, firstArg, &opts.JSON)
	for _, c := range []*cobra.Command{verify, inspect} {
		c.Flags().StringVar(&trust.Key, "key", "", "public key (PEM) of the bundle's signer, e.g. ferry.pub")
		c.Flags().BoolVar(&trust.InsecureSkipSignature, "insecure-skip-signature", false, "do not check the signature (INSECURE)")
		c.Args = cobra.ExactArgs(1)
	}
	root.AddCommand(
		newBuildCmd(opts),
		newLockCmd(opts),
		newKeygenCmd(),
		newSignCmd(),
		verify,
		inspect,
		newSchemaCmd(),
	)
	return root
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferry:", bundlecmd.Hint(err))
		code, _ := bundlecmd.ExitCode(err)
		os.Exit(code)
	}
}

// Package bundlecmd holds the cobra commands that ferry and ferry-install
// share: verify and inspect. Each turns flags into one call of package
// bundle.
package bundlecmd

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// Trust is how a command decides which bundles to trust.
type Trust struct {
	Key                   string // public key PEM file
	InsecureSkipSignature bool
}

// Load returns the verifier for Key, or reader options that skip the
// signature (after a loud warning on stderr) when asked.
func (t *Trust) Load(stderr io.Writer) (signing.Verifier, []bundle.ReadOption, error) {
	switch {
	case t.Key != "":
		v, err := signing.LoadVerifier(t.Key)
		if err != nil {
			return nil, nil, err
		}
		return v, []bundle.ReadOption{bundle.WithVerifier(v)}, nil
	case t.InsecureSkipSignature:
		fmt.Fprintln(stderr, "WARNING: --insecure-skip-signature: the bundle's signature is NOT checked; anyone could have made or changed it")
		return nil, []bundle.ReadOption{bundle.WithInsecureSkipSignature()}, nil
	default:
		return nil, nil, errors.New("no trusted key: pass --key ferry.pub (the signer's public key), or --insecure-skip-signature")
	}
}

// NewVerifyCmd returns `verify BUNDLE`. path returns the bundle named by
// args or a flag; asJSON reports whether --json was given.
func NewVerifyCmd(trust *Trust, path func([]string) string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle's signature and every entry's digest, writing nothing",
		Long: "verify reads the whole bundle once: it checks the signature over bundle.json with the trusted key,\n" +
			"then the size and sha256 of every entry against it, and the detached BUNDLE.sig when present.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, ropts, err := trust.Load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			p := path(args)
			rep, err := bundle.VerifyFile(cmd.Context(), p, v, ropts...)
			if err != nil {
				return err
			}
			m := rep.Manifest
			if *asJSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), map[string]any{
					"verified": true, "name": m.Name, "version": m.Version, "keyID": m.KeyID,
					"entries": len(m.Entries), "bytes": m.PayloadSize(), "detachedSignature": rep.Detached,
					"sha256": fmt.Sprintf("%x", rep.SHA256),
				})
			}
			signer := m.KeyID
			if signer == "" || v == nil {
				signer = "NOT CHECKED"
			}
			detached := "no detached .sig"
			if rep.Detached {
				detached = "detached .sig verified"
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "verified %s: %s %s, signer %s, %d entries, %d bytes, %s\n", p, m.Name, m.Version, signer, len(m.Entries), m.PayloadSize(), detached)
			return err
		},
	}
}

// NewInspectCmd returns `inspect BUNDLE`: the verified manifest as a table
// or JSON, reading only the head of the bundle.
func NewInspectCmd(trust *Trust, path func([]string) string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect BUNDLE",
		Short: "Show a bundle's manifest: version, arches, entries, images, charts, signer, expiry",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ropts, err := trust.Load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			m, err := bundle.InspectFile(cmd.Context(), path(args), ropts...)
			if err != nil {
				return err
			}
			if *asJSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), m)
			}
			return bundle.WriteSummary(cmd.OutOrStdout(), m)
		},
	}
}

// Package bundlecmd holds what ferry and ferry-install share on the command
// line: the verify and inspect commands, the trust flags, and the exit
// codes of verification failures. Each command turns flags into one call
// of package bundle, so both binaries decide the same way on the same
// files.
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

// Load returns reader options that check the signature with Key, or skip
// it (after a loud warning on stderr) when asked.
func (t *Trust) Load(stderr io.Writer) ([]bundle.ReadOption, error) {
	switch {
	case t.Key != "":
		v, err := signing.LoadVerifier(t.Key)
		if err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
		return []bundle.ReadOption{bundle.WithVerifier(v)}, nil
	case t.InsecureSkipSignature:
		fmt.Fprintln(stderr, "WARNING: --insecure-skip-signature: the bundle's signature is NOT checked; anyone could have made or changed it")
		return []bundle.ReadOption{bundle.WithInsecureSkipSignature()}, nil
	default:
		return nil, errors.New("no trusted key: pass --key ferry.pub (the signer's public key), or --insecure-skip-signature")
	}
}

// NewVerifyCmd returns `verify BUNDLE`. path returns the bundle named by
// args or a flag; asJSON reports whether --json was given.
func NewVerifyCmd(trust *Trust, path func([]string) string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle's signature, every entry's digest and every side file, writing nothing",
		Long: "verify reads the whole bundle once: it checks the signature over bundle.json with the trusted key\n" +
			"and that the manifest names that key, then the size and sha256 of every entry. Every side file present\n" +
			"must be valid too: BUNDLE.sig, BUNDLE.sha256, and for a split bundle its signed NAME.parts.json and each\n" +
			"part's .sig. server, agent, upgrade and inspect apply the same rule.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ropts, err := trust.Load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			p := path(args)
			if p == "" {
				return errors.New("no bundle given: pass BUNDLE (or --bundle FILE)")
			}
			prog := NewProgress(cmd.ErrOrStderr(), *asJSON)
			rep, err := bundle.VerifyFile(cmd.Context(), p, append(ropts, prog.Options()...)...)
			prog.Done()
			if err != nil {
				return err
			}
			m := rep.Manifest
			signer := m.KeyID
			if trust.Key == "" {
				signer = ""
			}
			if *asJSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), map[string]any{
					"verified": true, "name": m.Name, "version": m.Version, "keyID": signer, "signatureChecked": trust.Key != "",
					"entries": len(m.Entries), "bytes": m.PayloadSize(), "detachedSignature": rep.Detached,
					"checksumFile": rep.Checksum, "parts": rep.Parts, "sha256": fmt.Sprintf("%x", rep.SHA256),
				})
			}
			if signer == "" {
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

// NewInspectCmd returns `inspect BUNDLE`: the manifest as a table or JSON,
// after the same whole-bundle verification as verify (an expired bundle is
// shown, not refused).
func NewInspectCmd(trust *Trust, path func([]string) string, asJSON *bool) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect BUNDLE",
		Short: "Show a bundle's manifest (version, arches, entries, images, charts, signer, expiry) after verifying it",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ropts, err := trust.Load(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			p := path(args)
			if p == "" {
				return errors.New("no bundle given: pass BUNDLE (or --bundle FILE)")
			}
			prog := NewProgress(cmd.ErrOrStderr(), *asJSON)
			m, err := bundle.InspectFile(cmd.Context(), p, append(ropts, prog.Options()...)...)
			prog.Done()
			if err != nil {
				return err
			}
			if trust.Key == "" {
				shown := *m
				shown.KeyID = "" // claimed, not checked
				m = &shown
			}
			if *asJSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), m)
			}
			return bundle.WriteSummary(cmd.OutOrStdout(), m)
		},
	}
}

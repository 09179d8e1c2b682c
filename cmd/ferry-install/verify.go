package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-k3s/ferry/bundle"
)

func newVerifyCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [BUNDLE]",
		Short: "Check a bundle's signature and every entry's digest, writing nothing",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := bundlePath(opts, args)
			ropts, err := readOptions(cmd, opts.Key, opts.InsecureSkipSignature)
			if err != nil {
				return err
			}
			m, err := bundle.VerifyFile(cmd.Context(), path, ropts...)
			if err != nil {
				return err
			}
			return printVerified(cmd.OutOrStdout(), m, opts.JSON)
		},
	}
}

func newInspectCmd(opts *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect [BUNDLE]",
		Short: "Show a bundle's manifest: version, arches, entries, images, charts, signer",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := bundlePath(opts, args)
			ropts, err := readOptions(cmd, opts.Key, opts.InsecureSkipSignature)
			if err != nil {
				return err
			}
			m, err := bundle.InspectFile(cmd.Context(), path, ropts...)
			if err != nil {
				return err
			}
			if opts.JSON {
				return bundle.WriteJSON(cmd.OutOrStdout(), m)
			}
			return bundle.WriteSummary(cmd.OutOrStdout(), m)
		},
	}
}

func bundlePath(opts *globalOptions, args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return opts.Bundle
}

func printVerified(w interface{ Write([]byte) (int, error) }, m *bundle.Manifest, asJSON bool) error {
	if asJSON {
		return bundle.WriteJSON(w, map[string]any{"verified": true, "name": m.Name, "version": m.Version, "keyID": m.KeyID, "entries": len(m.Entries), "bytes": m.PayloadSize()})
	}
	_, err := fmt.Fprintf(w, "verified %s %s: signature by %s, %d entries, %d bytes\n", m.Name, m.Version, keyWord(m.KeyID), len(m.Entries), m.PayloadSize())
	return err
}

func keyWord(id string) string {
	if id == "" {
		return "nobody (unsigned)"
	}
	return id
}

package bundle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// VerifyFile reads the whole bundle at path (a file or any part of a split
// bundle) with its side files (see File and Open), checking the signature,
// every entry and every side file, and returns what it found. Nothing is
// written anywhere.
func VerifyFile(ctx context.Context, path string, opts ...ReadOption) (*FileReport, error) {
	f, err := Open(ctx, path, opts...)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	defer f.Close()
	m, err := Verify(ctx, f, opts...)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	// The zstd stream ends before the file when junk follows it: read
	// that too, so that the checks at the end of the file run.
	if _, err := io.Copy(io.Discard, f); err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	rep := f.Report()
	rep.Manifest = m
	return &rep, nil
}

// InspectFile verifies the bundle at path as VerifyFile does, so that it
// decides as every other command does, and returns its manifest; an
// expired bundle is shown, not refused.
func InspectFile(ctx context.Context, path string, opts ...ReadOption) (*Manifest, error) {
	rep, err := VerifyFile(ctx, path, append(opts, WithAllowExpired())...)
	if err != nil {
		return nil, err
	}
	return rep.Manifest, nil
}

// WriteJSON writes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteSummary writes a human-readable description of m.
func WriteSummary(w io.Writer, m *Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", m.Name)
	fmt.Fprintf(tw, "version:\t%s\n", m.Version)
	fmt.Fprintf(tw, "k3s:\t%s\n", m.K3sVersion)
	fmt.Fprintf(tw, "arches:\t%v\n", m.Arches)
	fmt.Fprintf(tw, "created:\t%s\n", m.Created.UTC().Format(time.RFC3339))
	exp := "never"
	if m.Expires != nil {
		exp = m.Expires.UTC().Format(time.RFC3339)
		if m.Expired(time.Now()) {
			exp += " (EXPIRED)"
		}
	}
	fmt.Fprintf(tw, "expires:\t%s\n", exp)
	signer := m.KeyID
	if signer == "" {
		signer = "unsigned"
	}
	fmt.Fprintf(tw, "signer:\t%s\n", signer)
	fmt.Fprintf(tw, "payload:\t%d bytes in %d entries\n", m.PayloadSize(), len(m.Entries))
	tw.Flush()
	fmt.Fprintln(w, "\nENTRIES")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tROLE\tSIZE\tSHA256")
	for _, e := range m.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.Path, e.Role, e.Size, e.SHA256)
	}
	tw.Flush()
	if len(m.Charts) > 0 {
		fmt.Fprintln(w, "\nCHARTS")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVERSION\tNAMESPACE\tREQUIRED\tDIGEST")
		for _, c := range m.Charts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", c.Name, c.Version, c.Namespace, c.Required, c.Digest)
		}
		tw.Flush()
	}
	if len(m.Images) > 0 {
		fmt.Fprintln(w, "\nIMAGES")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REF\tARCH\tDIGEST\tARCHIVE")
		for _, im := range m.Images {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", im.Ref, im.Arch, im.Digest, im.Archive)
		}
		tw.Flush()
	}
	return nil
}

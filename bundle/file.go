package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ferry-k3s/ferry/signing"
)

// OpenFile opens a bundle file for reading. A path naming a part of a split
// bundle (NAME.part001, or any part) opens all the parts as one stream, in
// place, checking each part against NAME.parts.json as it ends, so that a
// damaged part is named by number.
func OpenFile(path string) (io.ReadCloser, error) {
	if path == "" {
		return nil, fmt.Errorf("no bundle given: pass --bundle FILE")
	}
	if _, ok := SplitBase(path); ok {
		rc, _, err := openParts(path)
		return rc, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	return f, nil
}

// FileReport is what VerifyFile found.
type FileReport struct {
	Manifest *Manifest
	// SHA256 of the whole file, computed while it was verified.
	SHA256 []byte
	// Detached is true when path.sig existed and verified.
	Detached bool
}

// VerifyFile verifies the bundle at path (see Verify; opts carry the
// trusted key) and, when v is not nil and path.sig exists, the detached
// signature over the whole file with v, hashed in the same pass.
func VerifyFile(ctx context.Context, path string, v signing.Verifier, opts ...ReadOption) (*FileReport, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hr := newHashingReader(f)
	m, err := Verify(ctx, bufio.NewReaderSize(hr, 1<<20), opts...)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	// Count any bytes past the end of the zstd stream into the digest too.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	rep := &FileReport{Manifest: m, SHA256: hr.h.Sum(nil)}
	if v != nil {
		base := trimPartSuffix(path)
		if base != path {
			if err := verifyPartIndex(ctx, base, v); err != nil {
				return nil, err
			}
		}
		if rep.Detached, err = VerifyDetached(ctx, base, rep.SHA256, v); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// InspectFile reads and verifies only the manifest of the bundle at path;
// an expired bundle is shown, not refused.
func InspectFile(ctx context.Context, path string, opts ...ReadOption) (*Manifest, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := NewReader(ctx, f, append(opts, WithAllowExpired())...)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", path, err)
	}
	defer r.Close()
	return r.Manifest(), nil
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

// verifyPartIndex checks the signature over NAME.parts.json.
func verifyPartIndex(ctx context.Context, base string, v signing.Verifier) error {
	idx, err := os.ReadFile(base + ".parts.json")
	if err != nil {
		return fmt.Errorf("verify %s.parts.json: %w", base, err)
	}
	d := sha256.Sum256(idx)
	ok, err := VerifyDetached(ctx, base+".parts.json", d[:], v)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s.parts.json.sig is missing: copy it with the parts", base)
	}
	return nil
}

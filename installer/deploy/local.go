package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/internal/smallfile"
	"github.com/ferry-k3s/ferry/signing"
)

// localBundle is the bundle as deploy found it here: verified, with the
// files that make it up (the bundle, or its parts and index, and the
// signatures beside them) hashed for the copy.
type localBundle struct {
	Path           string // as given (a part for a split bundle)
	Manifest       *bundle.Manifest
	ManifestSHA256 string
	Files          []*localFile
}

// bundleFileNames lists what makes up the bundle at p, as it lies on
// disk: the file or the parts named by NAME.parts.json, and every
// signature and index beside them that exists. Nothing is read but the
// index.
func bundleFileNames(p string) ([]string, error) {
	exists := func(f string) bool { _, err := os.Stat(f); return err == nil }
	base, split := bundle.SplitBase(p)
	if !split {
		if !exists(p) {
			return nil, fmt.Errorf("bundle %s: no such file", p)
		}
		names := []string{p}
		if exists(p + ".sig") {
			names = append(names, p+".sig")
		}
		return names, nil
	}
	idx, err := readPartIndex(base)
	if err != nil {
		return nil, err
	}
	names := []string{base + ".parts.json"}
	for _, extra := range []string{base + ".parts.json.sig", base + ".sig"} {
		if exists(extra) {
			names = append(names, extra)
		}
	}
	for i := range idx.Parts {
		part := bundle.PartPath(base, i+1)
		names = append(names, part)
		if exists(part + ".sig") {
			names = append(names, part+".sig")
		}
	}
	return names, nil
}

func readPartIndex(base string) (*bundle.PartIndex, error) {
	b, err := smallfile.Read(base+".parts.json", 1<<20)
	if err != nil {
		return nil, fmt.Errorf("read the index of split bundle %s: %w", base, err)
	}
	var idx bundle.PartIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("read %s.parts.json: %w", base, err)
	}
	return &idx, nil
}

// verifyBundle verifies the bundle at p with the key as ferry-install
// verify does (signature, every entry, the detached .sig and a split
// bundle's signed index), then hashes the files to send. The whole bundle
// is read once: its sha256 (a single file) or the verified index (parts)
// give the digests to compare with the hosts'.
func verifyBundle(ctx context.Context, p, keyPath string) (*localBundle, error) {
	v, err := signing.LoadVerifier(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", keyPath, err)
	}
	rep, err := bundle.VerifyFile(ctx, p, bundle.WithVerifier(v))
	if err != nil {
		return nil, err
	}
	lb := &localBundle{Path: p, Manifest: rep.Manifest}
	if lb.ManifestSHA256, err = manifestSHA256(ctx, p, v); err != nil {
		return nil, err
	}
	names, err := bundleFileNames(p)
	if err != nil {
		return nil, err
	}
	known := map[string]string{}
	if base, split := bundle.SplitBase(p); split {
		idx, err := readPartIndex(base)
		if err != nil {
			return nil, err
		}
		for i, part := range idx.Parts {
			known[bundle.PartPath(base, i+1)] = part.SHA256
		}
	} else {
		known[p] = hex.EncodeToString(rep.SHA256)
	}
	for _, n := range names {
		if sum, ok := known[n]; ok {
			fi, err := os.Stat(n)
			if err != nil {
				return nil, fmt.Errorf("stat %s: %w", n, err)
			}
			lb.Files = append(lb.Files, &localFile{Path: n, Name: filepath.Base(n), Size: fi.Size(), SHA256: sum, Mode: 0o644})
			continue
		}
		f, err := hashFile(ctx, n, filepath.Base(n), 0o644)
		if err != nil {
			return nil, err
		}
		lb.Files = append(lb.Files, f)
	}
	return lb, nil
}

// manifestSHA256 is the digest of the exact bytes of bundle.json, as
// ferry-install records it in state.json.
func manifestSHA256(ctx context.Context, p string, v signing.Verifier) (string, error) {
	rc, err := bundle.Open(ctx, p, bundle.WithVerifier(v))
	if err != nil {
		return "", err
	}
	defer rc.Close()
	r, err := bundle.NewReader(ctx, rc, bundle.WithVerifier(v))
	if err != nil {
		return "", fmt.Errorf("read manifest of %s: %w", p, err)
	}
	defer r.Close()
	sum := sha256.Sum256(r.ManifestBytes())
	return hex.EncodeToString(sum[:]), nil
}

// installerBinary is the ferry-install to send: path, or this program.
func installerBinary(ctx context.Context, path string) (*localFile, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find this ferry-install to copy it: %w: pass --ferry-install PATH", err)
		}
		path = exe
	}
	f, err := hashFile(ctx, path, "ferry-install", 0o755)
	if err != nil {
		return nil, fmt.Errorf("ferry-install to copy: %w", err)
	}
	return f, nil
}

// errNoBundle says where to name the bundle.
var errNoBundle = errors.New("no bundle: set bundle: in the cluster file or pass --bundle")

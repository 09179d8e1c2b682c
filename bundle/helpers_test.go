package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// testKey is the cosign-made key committed under testdata/keys.
func testKey(t testing.TB) (signing.Signer, signing.Verifier) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "testdata", "keys")
	s, err := signing.LoadSigner(filepath.Join(dir, "cosign.key"), signing.StaticPass([]byte("ferry-test")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.LoadVerifier(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// newKey makes a fresh key pair in memory.
func newKey(t testing.TB) (signing.Signer, signing.Verifier) {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := signing.WriteKeyPair(filepath.Join(dir, "k"), signing.KeyTypeDefault, signing.StaticPass([]byte("pw"))); err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadSigner(filepath.Join(dir, "k.key"), signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.LoadVerifier(filepath.Join(dir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// memSource is a bundle source held in memory.
func memSource(path string, role bundle.Role, content []byte) bundle.Source {
	sum := sha256.Sum256(content)
	return bundle.Source{
		Entry: bundle.Entry{Path: path, Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:]), Role: role},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil },
	}
}

func testManifest() bundle.Manifest {
	return bundle.Manifest{
		Name: "factory-edge", Version: "1.4.0", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func testSources() []bundle.Source {
	return []bundle.Source{
		memSource("k3s/amd64/k3s", bundle.RoleK3sBinary, bytes.Repeat([]byte("k3s binary "), 5000)),
		memSource("images/amd64/k3s-airgap-images.tar.zst", bundle.RoleAirgapImages, bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 30000)),
		memSource("charts/longhorn-1.7.2.tgz", bundle.RoleChart, []byte("chart bytes")),
		memSource("templates/config.yaml.tmpl", bundle.RoleTemplate, []byte("write-kubeconfig-mode: \"0644\"\n")),
		memSource("sbom.spdx.json", bundle.RoleSBOM, []byte("{}\n")),
		memSource("empty", bundle.RoleConfig, nil),
	}
}

// writeBundle writes a bundle of the test sources, signed by s (nil: unsigned).
func writeBundle(t testing.TB, m bundle.Manifest, sources []bundle.Source, s signing.Signer) []byte {
	t.Helper()
	var buf bytes.Buffer
	opts := []bundle.WriteOption{bundle.WithEncoderConcurrency(2)}
	if s != nil {
		opts = append(opts, bundle.WithSigner(s))
	}
	if _, err := bundle.Write(context.Background(), &buf, m, sources, opts...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarEntry is one raw entry of a bundle's tar stream, for tampering.
type tarEntry struct {
	hdr  *tar.Header
	body []byte
}

func untar(t testing.TB, b []byte) []tarEntry {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr, body})
	}
}

// retar writes entries as a zstd tar stream, with raw appended after the
// tar end (before compression).
func retar(t testing.TB, entries []tarEntry, trailer []byte) []byte {
	t.Helper()
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for _, e := range entries {
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil && e.hdr.Typeflag == tar.TypeReg {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	plain.Write(trailer)
	return compress(t, plain.Bytes())
}

func compress(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(b)
	enc.Close()
	return out.Bytes()
}

// readAll reads a bundle through the streaming reader and returns every
// entry's content.
func readAll(b []byte, opts ...bundle.ReadOption) (map[string][]byte, error) {
	r, err := bundle.NewReader(context.Background(), bytes.NewReader(b), opts...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	got := map[string][]byte{}
	for {
		e, content, err := r.Next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		body, err := io.ReadAll(content)
		if err != nil {
			return got, err
		}
		got[e.Path] = body
	}
}

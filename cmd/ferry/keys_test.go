package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/klauspost/compress/zstd"
)

// run executes ferry in-process with args and returns stdout.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errOut.String(), err
}

func tinyBundle(t *testing.T, path string) {
	t.Helper()
	body := []byte("k3s stand-in bytes")
	sum := sha256.Sum256(body)
	src := bundle.Source{
		Entry: bundle.Entry{Path: "k3s/amd64/k3s", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleK3sBinary, Mode: 0o755},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil },
	}
	m := bundle.Manifest{Name: "t", Version: "1.0.0", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"}, Created: time.Unix(0, 0).UTC()}
	if _, err := bundle.WriteFile(context.Background(), path, m, []bundle.Source{src}); err != nil {
		t.Fatal(err)
	}
}

func TestKeygenSignVerify(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FERRY_PASSWORD", "correct horse")
	prefix := filepath.Join(dir, "ferry")
	if out, err := run(t, "keygen", "--output-prefix", prefix); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	key, _ := os.ReadFile(prefix + ".key")
	if !bytes.Contains(key, []byte("ENCRYPTED SIGSTORE PRIVATE KEY")) {
		t.Fatalf("ferry.key is not in cosign's encrypted format:\n%s", key)
	}
	if st, _ := os.Stat(prefix + ".key"); st.Mode().Perm() != 0o600 {
		t.Errorf("ferry.key mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := run(t, "keygen", "--output-prefix", prefix); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("keygen over an existing key: %v, want a refusal", err)
	}

	b := filepath.Join(dir, "b.ferry")
	tinyBundle(t, b)
	if _, err := run(t, "verify", b, "--key", prefix+".pub"); err == nil {
		t.Fatal("unsigned bundle verified with a key")
	}
	if out, err := run(t, "sign", b, "--key", prefix+".key", "--from-unsigned"); err != nil {
		t.Fatalf("sign: %v\n%s", err, out)
	}
	out, err := run(t, "verify", b, "--key", prefix+".pub")
	if err != nil || !strings.Contains(out, "detached .sig verified") {
		t.Fatalf("verify after sign: %v\n%s", err, out)
	}
	out, err = run(t, "inspect", b, "--key", prefix+".pub", "--json")
	if err != nil || !strings.Contains(out, `"keyID": "sha256:`) {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}

	// A cosign-made key signs too, and the old key no longer verifies.
	t.Setenv("FERRY_PASSWORD", "ferry-test")
	cosignKey := filepath.Join("..", "..", "testdata", "keys", "cosign")
	if out, err := run(t, "sign", b, "--key", cosignKey+".key", "--trust", prefix+".pub"); err != nil {
		t.Fatalf("re-sign with a cosign key: %v\n%s", err, out)
	}
	if _, err := run(t, "verify", b, "--key", prefix+".pub"); err == nil {
		t.Fatal("bundle re-signed by another key still verified with the old key")
	}
	if out, err := run(t, "verify", b, "--key", cosignKey+".pub"); err != nil {
		t.Fatalf("verify with the cosign key: %v\n%s", err, out)
	}
	cosignVerify(t, cosignKey+".pub", b+".sig", b)

	// The signature inside the bundle is cosign's blob format too.
	f, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	for _, name := range []string{bundle.ManifestName, bundle.SignatureName} {
		hdr, err := tr.Next()
		if err != nil || hdr.Name != name {
			t.Fatalf("entry %s: %v %v", name, hdr, err)
		}
		body, _ := io.ReadAll(tr)
		os.WriteFile(filepath.Join(dir, name), body, 0o644)
	}
	cosignVerify(t, cosignKey+".pub", filepath.Join(dir, bundle.SignatureName), filepath.Join(dir, bundle.ManifestName))
}

// cosignVerify runs stock cosign on a detached signature. Ferry's signatures
// are made offline and never uploaded to a transparency log, hence
// --insecure-ignore-tlog.
func cosignVerify(t *testing.T, pub, sig, blob string) {
	t.Helper()
	cosign, err := exec.LookPath("cosign")
	if err != nil {
		if p := filepath.Join(os.Getenv("HOME"), "go", "bin", "cosign"); fileExists(p) {
			cosign = p
		} else if os.Getenv("CI") != "" {
			t.Fatal("cosign is not installed; .ci/run installs it with go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5")
		} else {
			t.Skip("cosign not installed (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cosign, "verify-blob", "--insecure-ignore-tlog=true", "--key", pub, "--signature", sig, blob)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("cosign verify-blob %s: %v\n%s", blob, err, out)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestKeygenPolicy: keygen makes every accepted type, verifies a bundle
// signed with it through ferry sign and ferry verify, and refuses weak
// types and an empty password with the reason and exit code 3 / 1.
func TestKeygenPolicy(t *testing.T) {
	dir := t.TempDir()
	for _, kt := range []string{"ecdsa-p384", "ed25519"} {
		t.Setenv("FERRY_PASSWORD", "pw")
		prefix := filepath.Join(dir, kt)
		if out, err := run(t, "keygen", "--type", kt, "--output-prefix", prefix); err != nil {
			t.Fatalf("keygen --type %s: %v\n%s", kt, err, out)
		}
		b := filepath.Join(dir, kt+".ferry")
		tinyBundle(t, b)
		if out, err := run(t, "sign", b, "--key", prefix+".key", "--from-unsigned"); err != nil {
			t.Fatalf("sign with %s: %v\n%s", kt, err, out)
		}
		if out, err := run(t, "verify", b, "--key", prefix+".pub"); err != nil || !strings.Contains(out, "detached .sig verified") {
			t.Fatalf("verify with %s: %v\n%s", kt, err, out)
		}
	}
	for _, kt := range []string{"rsa-1024", "ecdsa-p224", "dsa"} {
		_, err := run(t, "keygen", "--type", kt, "--output-prefix", filepath.Join(dir, kt))
		if err == nil || !strings.Contains(err.Error(), "key type refused") {
			t.Errorf("keygen --type %s: %v", kt, err)
		}
		if _, err := os.Stat(filepath.Join(dir, kt+".key")); err == nil {
			t.Errorf("keygen --type %s wrote a key", kt)
		}
	}
	t.Setenv("FERRY_PASSWORD", "")
	if _, err := run(t, "keygen", "--output-prefix", filepath.Join(dir, "empty")); err == nil || !strings.Contains(err.Error(), "password is empty") {
		t.Errorf("keygen with an empty password: %v", err)
	}
}

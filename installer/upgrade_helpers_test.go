package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// release shapes one version of a test bundle for upgrade tests.
type release struct {
	name, version string
	// k3s is the k3s binary for this host's arch (default a script naming
	// the version).
	k3s []byte
	// chartVersion is the nfs chart's version (default 4.0.18); other
	// payload differs by version too.
	chartVersion string
	// dropExtra leaves out files/extra.conf.
	dropExtra bool
	// extraPath is files/extra.conf's hostPath (default /etc/ferry-extra.conf).
	extraPath string
	expires   *time.Time
	tamper    string
	// templates are template overrides by name ("k3s.service.tmpl").
	templates map[string]string
}

// payload returns r's entries.
func (r release) payload() []testFile {
	f := func(p string, role bundle.Role, a, data string) testFile {
		return testFile{entry: bundle.Entry{Path: p, Role: role, Arch: a}, data: []byte(data)}
	}
	cv := r.chartVersion
	if cv == "" {
		cv = "4.0.18"
	}
	k3s := r.k3s
	if k3s == nil {
		k3s = []byte("#!/bin/sh\necho k3s version v" + r.version + "\n")
	}
	files := []testFile{
		f("charts/nfs-"+cv+".tgz", bundle.RoleChart, "", "nfs chart archive "+cv),
		f("images/"+arch+"/ferry-images.tar", bundle.RoleImages, arch, "ferry images "+arch+" "+r.version),
		f("images/"+arch+"/k3s-airgap-images.tar.zst", bundle.RoleAirgapImages, arch, "airgap "+arch+" "+r.version),
		f("images/"+otherArch+"/k3s-airgap-images.tar.zst", bundle.RoleAirgapImages, otherArch, "airgap "+otherArch),
		{entry: bundle.Entry{Path: "k3s/" + arch + "/k3s", Role: bundle.RoleK3sBinary, Arch: arch}, data: k3s},
		f("sbom.spdx.json", bundle.RoleSBOM, "", "{}"),
	}
	if !r.dropExtra {
		extra := f("files/extra.conf", bundle.RoleFile, "", "extra="+r.version+"\n")
		extra.entry.HostPath, extra.entry.Mode = "/etc/ferry-extra.conf", 0o640
		if r.extraPath != "" {
			extra.entry.HostPath = r.extraPath
		}
		files = append(files, extra)
	}
	for name, body := range r.templates {
		files = append(files, f("templates/"+name, bundle.RoleTemplate, "", body))
	}
	sort.Slice(files, func(i, j int) bool { return files[i].entry.Path < files[j].entry.Path })
	return files
}

// write writes r as a signed bundle and returns its path.
func (r release) write(t *testing.T) string {
	t.Helper()
	signer, _ := keys(t)
	if r.name == "" {
		r.name = "factory-edge"
	}
	files := r.payload()
	m := bundle.Manifest{
		Format: bundle.FormatVersion, Name: r.name, Version: r.version, Expires: r.expires,
		Created: time.Unix(0, 0).UTC(), K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64", "arm64"},
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
			v := strings.TrimSuffix(strings.TrimPrefix(e.Path, "charts/nfs-"), ".tgz")
			m.Charts = append(m.Charts, bundle.Chart{Name: "nfs", Version: v, Namespace: "nfs-provisioner", Path: e.Path,
				Digest: "sha256:" + e.SHA256, Required: []string{"nfs.server"}, Values: map[string]any{"nfs": map[string]any{"path": "/export-" + v}}})
		}
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(context.Background(), &buf, m, sources, bundle.WithSigner(signer), bundle.WithEncoderConcurrency(1)); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if r.tamper != "" {
		out = tamper(t, out, files, r.tamper)
	}
	p := filepath.Join(t.TempDir(), r.name+"-"+r.version+".ferry")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// placed returns the host path and sha256 of every bundle file r places
// on a server of this arch.
func (r release) placed() map[string]string {
	p := &plan{opts: InstallOptions{Arch: arch, Node: manifests.Node{Role: manifests.RoleServer}}}
	out := map[string]string{}
	for _, f := range r.payload() {
		if dest, _ := p.entryDest(f.entry); dest != "" {
			out[dest] = sha256Hex(f.data)
		}
	}
	return out
}

// upgradeWith upgrades root to the bundle at bp; mut adjusts the options.
func upgradeWith(t *testing.T, h Host, bp string, mut func(*UpgradeOptions)) (*UpgradeResult, error) {
	t.Helper()
	_, verifier := keys(t)
	f, err := os.Open(bp)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := UpgradeOptions{RunOptions: RunOptions{Host: h}, Bundle: f, ReadOptions: []bundle.ReadOption{bundle.WithVerifier(verifier)}}
	if mut != nil {
		mut(&opts)
	}
	return Upgrade(context.Background(), opts)
}

// checkConverged checks that root holds exactly one of the releases: its
// state.json names one of them, every bundle file that release places is
// in place with its digest, no file only the other places is left, every
// file state.json lists has the recorded digest (or link target), and no
// staging directory is left. It returns the version found.
func checkConverged(t *testing.T, root string, releases ...release) string {
	t.Helper()
	h, _ := NewLocalHost(root)
	st, err := ReadState(context.Background(), h)
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	var got *release
	for i := range releases {
		if releases[i].version == st.Bundle.Version {
			got = &releases[i]
		}
	}
	if got == nil {
		t.Fatalf("state.json names %s, none of the releases", st.Bundle.Version)
	}
	want := got.placed()
	for _, r := range releases {
		for p := range r.placed() {
			if _, ok := want[p]; !ok {
				if _, err := os.Lstat(h.Local(p)); err == nil {
					t.Errorf("%s (of %s) is left in an install of %s", p, r.version, got.version)
				}
			}
		}
	}
	for p, sum := range want {
		if d := fileDigest(t, h.Local(p)); d != sum {
			t.Errorf("%s: digest %s, want %s's %s", p, d, got.version, sum)
		}
	}
	for _, f := range st.Files {
		if f.Link != "" {
			if target, err := os.Readlink(h.Local(f.Path)); err != nil || target != f.Link {
				t.Errorf("%s: link %q %v, want -> %s", f.Path, target, err, f.Link)
			}
			continue
		}
		if d := fileDigest(t, h.Local(f.Path)); d != f.SHA256 {
			t.Errorf("%s: digest %s, recorded %s", f.Path, d, f.SHA256)
		}
	}
	ents, _ := os.ReadDir(h.Local(FerryDir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), stagingPrefix) {
			t.Errorf("staging directory %s left", e.Name())
		}
	}
	return got.version
}

func fileDigest(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return "missing"
	}
	return sha256Hex(b)
}

var standins struct {
	sync.Mutex
	bins map[string][]byte
}

// standinVersion returns the k3s stand-in built to report version.
func standinVersion(t *testing.T, version string) []byte {
	t.Helper()
	standins.Lock()
	defer standins.Unlock()
	if b, ok := standins.bins[version]; ok {
		return b
	}
	bin := filepath.Join(t.TempDir(), "k3s")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", bin, "../testdata/k3s-standin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the k3s stand-in %s: %v\n%s", version, err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if standins.bins == nil {
		standins.bins = map[string][]byte{}
	}
	standins.bins[version] = b
	return b
}

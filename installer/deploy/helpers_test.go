package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

var (
	binDir        string
	binOnce       sync.Once
	binErr        error
	repoRoot      = filepath.Join("..", "..")
	testKeyDir, _ = filepath.Abs(filepath.Join(repoRoot, "testdata", "keys"))
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bins builds the real ferry-install (static, as released) and the k3s
// stand-in once per test binary.
func bins(t *testing.T) (ferryInstall, k3s string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds ferry-install and the k3s stand-in; runs without -short")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "ferry-deploy-bins-")
		if binErr != nil {
			return
		}
		for _, b := range []struct{ out, pkg string }{
			{"ferry-install", "./cmd/ferry-install"},
			{"k3s", "./testdata/k3s-standin"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "ferry-install"), filepath.Join(binDir, "k3s")
}

// testBundle writes a bundle signed with the committed test key carrying
// the k3s stand-in as k3s, and returns its path and the public key's.
// version names the bundle's version.
// templates are template overrides by name ("k3s.service.tmpl").
func testBundle(t *testing.T, dir, version string, templates map[string]string) (string, string) {
	return writeTestBundle(t, dir, version, templates, 0)
}

// writeTestBundle is testBundle; split > 0 writes it as parts of at most
// split bytes (with 3 MiB of incompressible data so that there are
// several) and returns the first part's path.
func writeTestBundle(t *testing.T, dir, version string, templates map[string]string, split int64) (string, string) {
	t.Helper()
	_, k3s := bins(t)
	k3sBytes, err := os.ReadFile(k3s)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.LoadSigner(filepath.Join(testKeyDir, "cosign.key"), signing.StaticPass([]byte("ferry-test")))
	if err != nil {
		t.Fatal(err)
	}
	arch := runtime.GOARCH
	files := map[string]struct {
		role bundle.Role
		arch string
		data []byte
	}{
		"charts/nfs-4.0.18.tgz":                         {bundle.RoleChart, "", []byte("nfs chart archive")},
		"images/" + arch + "/ferry-images.tar":          {bundle.RoleImages, arch, []byte("ferry images " + version)},
		"images/" + arch + "/k3s-airgap-images.tar.zst": {bundle.RoleAirgapImages, arch, []byte("airgap")},
		"k3s/" + arch + "/k3s":                          {bundle.RoleK3sBinary, arch, k3sBytes},
		"sbom.spdx.json":                                {bundle.RoleSBOM, "", []byte("{}")},
	}
	if split > 0 {
		img := files["images/"+arch+"/ferry-images.tar"]
		img.data = make([]byte, 3<<20)
		rand.Read(img.data)
		files["images/"+arch+"/ferry-images.tar"] = img
	}
	for name, body := range templates {
		files["templates/"+name] = struct {
			role bundle.Role
			arch string
			data []byte
		}{bundle.RoleTemplate, "", []byte(body)}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	m := bundle.Manifest{Format: bundle.FormatVersion, Name: "factory-edge", Version: version,
		Created: time.Unix(0, 0).UTC(), K3sVersion: "v1.31.4+k3s1", Arches: []string{arch}}
	var srcs []bundle.Source
	for _, p := range paths {
		f := files[p]
		sum := sha256.Sum256(f.data)
		e := bundle.Entry{Path: p, Role: f.role, Arch: f.arch, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])}
		m.Entries = append(m.Entries, e)
		data := f.data
		srcs = append(srcs, bundle.Source{Entry: e, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		if f.role == bundle.RoleChart {
			m.Charts = append(m.Charts, bundle.Chart{Name: "nfs", Version: "4.0.18", Namespace: "nfs-provisioner", Path: p, Digest: "sha256:" + e.SHA256})
		}
	}
	p := filepath.Join(dir, "factory-edge-"+version+".ferry")
	wopts := []bundle.WriteOption{bundle.WithSigner(s), bundle.WithEncoderConcurrency(1)}
	if split > 0 {
		wopts = append(wopts, bundle.WithSplit(split))
	}
	if _, err := bundle.WriteFile(context.Background(), p, m, srcs, wopts...); err != nil {
		t.Fatal(err)
	}
	if split > 0 {
		p = bundle.PartPath(p, 1)
	}
	return p, filepath.Join(testKeyDir, "cosign.pub")
}

// hostRoot makes a root that passes preflight (package preflight's
// healthy tree) with the files in change written over it. Any k3s
// stand-in still running from it when the test ends is stopped.
func hostRoot(t *testing.T, change map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "preflight", "testdata", "healthy"))); err != nil {
		t.Fatal(err)
	}
	for p, content := range change {
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { stopStandins(root) })
	return root
}

// stopStandins kills the processes the exec service manager recorded
// under root.
func stopStandins(root string) {
	pids, _ := filepath.Glob(filepath.Join(root, "run", "ferry-exec", "*.pid"))
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// snapshot lists every path below root with its type, mode and digest.
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
		case fi.IsDir():
			out[rel] = "dir " + fi.Mode().String()
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("file %s %x", fi.Mode(), sha256.Sum256(b))
		default:
			out[rel] = fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diff(a, b map[string]string) []string {
	var d []string
	for k, v := range a {
		if b[k] != v {
			d = append(d, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			d = append(d, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// testHost is a host to put in a test cluster file.
type testHost struct {
	name, root string
}

// writeCluster writes cluster.yaml for hosts on the test sshd, each
// installing into its own root.
func writeCluster(t *testing.T, dir string, s *testSSHD, bundlePath, key string, servers, agents []testHost) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: ferry.k3s.io/v1\nkind: Cluster\nmetadata: {name: plant-7}\nbundle: %s\nkey: %s\n", bundlePath, key)
	fmt.Fprintf(&b, "ssh: {user: root, port: %d, identityFile: %s, knownHosts: %s}\n", s.Port, s.ClientKey, s.KnownHosts)
	fmt.Fprintf(&b, "serverArgs: {cluster-cidr: 10.42.0.0/16}\n")
	for _, g := range []struct {
		key   string
		hosts []testHost
	}{{"servers", servers}, {"agents", agents}} {
		if len(g.hosts) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n", g.key)
		for _, h := range g.hosts {
			fmt.Fprintf(&b, "  - {address: 127.0.0.1, name: %s, root: %s}\n", h.name, h.root)
		}
	}
	return writeFile(t, dir, "cluster.yaml", b.String())
}

// fileMode is the permission bits of p.
func fileMode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

package nspawntest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// TestRealSystemd installs a bundle carrying the k3s stand-in with the real
// ferry-install binary into booted Debian containers, as a server and as an
// agent, checks systemd enabled and started the unit, then uninstalls and
// checks nothing of ferry's or k3s's is left.
func TestRealSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd-nspawn containers: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	work := t.TempDir()
	ferryInstall := goBuild(ctx, t, filepath.Join(work, "ferry-install"), "./cmd/ferry-install")
	help, err := exec.CommandContext(ctx, ferryInstall, "server", "--help").CombinedOutput()
	if err != nil || strings.Contains(string(help), "not yet available") {
		t.Skip("ferry-install server not implemented yet")
	}
	standin := goBuild(ctx, t, filepath.Join(work, "k3s"), "./testdata/k3s-standin")
	bundlePath, pubPath := writeBundle(ctx, t, work, standin)

	tests := []struct {
		name string
		args []string
		unit string
	}{
		{name: "server", args: []string{"server", "--timeout", "2m"}, unit: "k3s"},
		{name: "agent", args: []string{"agent", "--server", "https://127.0.0.1:6443", "--token", "T", "--timeout", "2m"}, unit: "k3s-agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Boot(ctx, t)
			if err := c.AddDefaultRoute(ctx); err != nil {
				t.Fatal(err)
			}
			for host, inside := range map[string]string{ferryInstall: "/root/ferry-install", bundlePath: "/root/b.ferry", pubPath: "/root/ferry.pub"} {
				if err := c.CopyIn(host, inside); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"/root/ferry-install"}, tt.args...)
			args = append(args, "--bundle", "/root/b.ferry", "--key", "/root/ferry.pub")
			out, err := c.Exec(ctx, args...)
			if err != nil {
				journal, _ := c.Exec(ctx, "journalctl", "-u", tt.unit, "-n", "40", "--no-pager")
				t.Fatalf("%s: %v\n%s\njournal:\n%s", strings.Join(args, " "), err, out, journal)
			}
			t.Logf("%s:\n%s", strings.Join(args, " "), out)
			for _, q := range []struct{ verb, want string }{{"is-enabled", "enabled"}, {"is-active", "active"}} {
				got, _ := c.Exec(ctx, "systemctl", q.verb, tt.unit)
				if strings.TrimSpace(string(got)) != q.want {
					t.Errorf("systemctl %s %s = %q, want %q", q.verb, tt.unit, got, q.want)
				}
			}
			if tt.name == "server" {
				nodes, err := c.Exec(ctx, "/usr/local/bin/kubectl", "get", "nodes", "-o", "json")
				if err != nil || !strings.Contains(string(nodes), `"status":"True"`) {
					t.Errorf("kubectl get nodes: %v: %s", err, nodes)
				}
			}

			out, err = c.Exec(ctx, "/root/ferry-install", "uninstall")
			if err != nil {
				t.Fatalf("ferry-install uninstall: %v\n%s", err, out)
			}
			if got, _ := c.Exec(ctx, "systemctl", "is-active", tt.unit); strings.TrimSpace(string(got)) == "active" {
				t.Errorf("%s still active after uninstall", tt.unit)
			}
			var left []string
			for _, pat := range []string{"etc/systemd/system/k3s*", "etc/systemd/system/*/k3s*", "usr/local/bin/k3s*", "usr/local/bin/kubectl", "usr/local/bin/crictl", "usr/local/bin/ctr", "var/lib/ferry"} {
				m, _ := filepath.Glob(filepath.Join(c.Dir, pat))
				left = append(left, m...)
			}
			if len(left) > 0 {
				t.Errorf("left after uninstall: %v", left)
			}
		})
	}
}

// goBuild builds a main package of this module (CGO_ENABLED=0) to out.
func goBuild(ctx context.Context, t *testing.T, out, pkg string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return dir
}

// writeBundle writes a signed bundle whose k3s is the stand-in, with
// placeholder image and chart archives, and the public key to verify it.
func writeBundle(ctx context.Context, t *testing.T, dir, standin string) (bundlePath, pubPath string) {
	t.Helper()
	keyPath, pubPath, err := signing.WriteKeyPair(filepath.Join(dir, "ferry"), signing.KeyTypeDefault, signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.LoadSigner(keyPath, signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	k3s, err := os.ReadFile(standin)
	if err != nil {
		t.Fatal(err)
	}
	arch := runtime.GOARCH
	payload := map[string]struct {
		role bundle.Role
		arch string
		mode uint32
		data []byte
	}{
		"k3s/" + arch + "/k3s":                 {bundle.RoleK3sBinary, arch, 0o755, k3s},
		"images/" + arch + "/ferry-images.tar": {bundle.RoleImages, arch, 0, []byte("placeholder image archive")},
		"charts/hello-0.1.0.tgz":               {bundle.RoleChart, "", 0, []byte("placeholder chart")},
	}
	m := bundle.Manifest{
		Format: bundle.FormatVersion, Name: "nspawn-e2e", Version: "0.1.0",
		Created: time.Now().UTC().Truncate(time.Second), K3sVersion: "v1.31.4+k3s1", Arches: []string{arch},
	}
	var sources []bundle.Source
	for p, f := range payload {
		sum := sha256.Sum256(f.data)
		e := bundle.Entry{Path: p, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), Role: f.role, Arch: f.arch, Mode: f.mode}
		m.Entries = append(m.Entries, e)
		data := f.data
		sources = append(sources, bundle.Source{Entry: e, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
		if f.role == bundle.RoleChart {
			m.Charts = append(m.Charts, bundle.Chart{Name: "hello", Version: "0.1.0", Namespace: "default", Path: p, Digest: "sha256:" + e.SHA256})
		}
	}
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	sort.Slice(sources, func(i, j int) bool { return sources[i].Entry.Path < sources[j].Entry.Path })
	f, err := os.Create(filepath.Join(dir, "b.ferry"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := bundle.Write(ctx, f, m, sources, bundle.WithSigner(signer)); err != nil {
		t.Fatalf("write bundle: %v", err)
	}
	return f.Name(), pubPath
}

package nspawntest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// TestRealSystemdUpgrade installs a bundle carrying the k3s stand-in built
// as version A under real systemd, then upgrades to a bundle whose stand-in
// is version B: the unit is really stopped, swapped and restarted, and
// status reports B. A B whose unit never becomes ready (the stand-in told
// to fail by the bundle's unit template) is rolled back: upgrade exits 5
// and A runs again.
func TestRealSystemdUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("boots systemd-nspawn containers: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	work := t.TempDir()
	const verA, verB = "v1.31.4+k3s1", "v1.32.1+k3s1"
	ferryInstall := goBuild(ctx, t, filepath.Join(work, "ferry-install"), "./cmd/ferry-install")
	if help, err := exec.CommandContext(ctx, ferryInstall, "upgrade", "--help").CombinedOutput(); err != nil {
		t.Skipf("ferry-install upgrade not available: %v: %s", err, help)
	}
	standinA := goBuildVersion(ctx, t, filepath.Join(work, "k3s-a"), verA)
	standinB := goBuildVersion(ctx, t, filepath.Join(work, "k3s-b"), verB)
	signer, pubPath := keyPair(t, work)
	unit, err := os.ReadFile(filepath.Join(moduleRoot(t), "manifests/templates/k3s.service.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	failing := strings.Replace(string(unit), "[Service]\n", "[Service]\nEnvironment=K3S_STANDIN_FAIL=ready\n", 1)
	bundleA := writeRelease(ctx, t, work, signer, "1.4.0", standinA, "")
	bundleB := writeRelease(ctx, t, work, signer, "1.5.0", standinB, "")
	bundleBad := writeRelease(ctx, t, work, signer, "1.5.1", standinB, failing)

	tests := []struct {
		name     string
		bundle   string
		wantExit int
		wantK3s  string
		wantVer  string
	}{
		{name: "good", bundle: bundleB, wantK3s: verB, wantVer: "1.5.0"},
		{name: "never ready", bundle: bundleBad, wantExit: 5, wantK3s: verA, wantVer: "1.4.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Boot(ctx, t)
			if err := c.AddDefaultRoute(ctx); err != nil {
				t.Fatal(err)
			}
			for host, inside := range map[string]string{ferryInstall: "/root/ferry-install", bundleA: "/root/a.ferry", tt.bundle: "/root/new.ferry", pubPath: "/root/ferry.pub"} {
				if err := c.CopyIn(host, inside); err != nil {
					t.Fatal(err)
				}
			}
			run := func(args ...string) ([]byte, error) {
				return c.Exec(ctx, append([]string{"/root/ferry-install"}, args...)...)
			}
			if out, err := run("server", "--bundle", "/root/a.ferry", "--key", "/root/ferry.pub", "--timeout", "2m"); err != nil {
				t.Fatalf("install A: %v\n%s", err, out)
			}
			pidA, _ := c.Exec(ctx, "systemctl", "show", "-p", "MainPID", "--value", "k3s")
			out, err := run("upgrade", "--bundle", "/root/new.ferry", "--key", "/root/ferry.pub", "--timeout", "20s")
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("upgrade: %v\n%s", err, out)
			}
			t.Logf("upgrade (exit %d):\n%s", code, out)
			if code != tt.wantExit {
				journal, _ := c.Exec(ctx, "journalctl", "-u", "k3s", "-n", "40", "--no-pager")
				t.Fatalf("upgrade exited %d, want %d\njournal:\n%s", code, tt.wantExit, journal)
			}
			pidNow, _ := c.Exec(ctx, "systemctl", "show", "-p", "MainPID", "--value", "k3s")
			if strings.TrimSpace(string(pidNow)) == strings.TrimSpace(string(pidA)) {
				t.Errorf("k3s main pid %s did not change: the service was not restarted", pidNow)
			}
			if got, _ := c.Exec(ctx, "systemctl", "is-active", "k3s"); strings.TrimSpace(string(got)) != "active" {
				t.Errorf("k3s is %q after the upgrade, want active", got)
			}
			js, err := run("status", "--json")
			if err != nil {
				t.Fatalf("status: %v\n%s", err, js)
			}
			var st struct {
				Bundle     struct{ Version string }
				K3sVersion string
				NodeReady  bool
				Previous   *struct{ Bundle struct{ Version string } }
			}
			if err := json.Unmarshal(js, &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, js)
			}
			if st.Bundle.Version != tt.wantVer || st.K3sVersion != tt.wantK3s || !st.NodeReady {
				t.Errorf("status: %s", js)
			}
			if tt.wantExit != 0 {
				return
			}
			if st.Previous == nil || st.Previous.Bundle.Version != "1.4.0" {
				t.Errorf("status does not keep 1.4.0 for rollback: %s", js)
			}
			if out, err := run("rollback", "--timeout", "2m"); err != nil {
				t.Fatalf("rollback: %v\n%s", err, out)
			}
			if v, _ := c.Exec(ctx, "/usr/local/bin/k3s", "--version"); !strings.Contains(string(v), verA) {
				t.Errorf("k3s --version after rollback: %s", v)
			}
		})
	}
}

// goBuildVersion builds the k3s stand-in claiming version.
func goBuildVersion(ctx context.Context, t *testing.T, out, version string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version="+version, "-o", out, "./testdata/k3s-standin")
	cmd.Dir = moduleRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in %s: %v\n%s", version, err, b)
	}
	return out
}

func keyPair(t *testing.T, dir string) (signing.Signer, string) {
	t.Helper()
	keyPath, pubPath, err := signing.WriteKeyPair(filepath.Join(dir, "upgrade"), signing.KeyTypeDefault, signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.LoadSigner(keyPath, signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	return signer, pubPath
}

// writeRelease writes a signed bundle "nspawn-upgrade" of version carrying
// the stand-in at standin, and unit as its systemd unit template when set.
func writeRelease(ctx context.Context, t *testing.T, dir string, signer signing.Signer, version, standin, unit string) string {
	t.Helper()
	k3s, err := os.ReadFile(standin)
	if err != nil {
		t.Fatal(err)
	}
	arch := runtime.GOARCH
	type file struct {
		role bundle.Role
		arch string
		mode uint32
		data []byte
	}
	payload := map[string]file{
		"k3s/" + arch + "/k3s":                 {bundle.RoleK3sBinary, arch, 0o755, k3s},
		"images/" + arch + "/ferry-images.tar": {bundle.RoleImages, arch, 0, []byte("placeholder image archive " + version)},
	}
	if unit != "" {
		payload["templates/k3s.service.tmpl"] = file{bundle.RoleTemplate, "", 0, []byte(unit)}
	}
	m := bundle.Manifest{
		Format: bundle.FormatVersion, Name: "nspawn-upgrade", Version: version,
		Created: time.Now().UTC().Truncate(time.Second), K3sVersion: "v1.31.4+k3s1", Arches: []string{arch},
	}
	var sources []bundle.Source
	for p, f := range payload {
		sum := sha256.Sum256(f.data)
		e := bundle.Entry{Path: p, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:]), Role: f.role, Arch: f.arch, Mode: f.mode}
		m.Entries = append(m.Entries, e)
		data := f.data
		sources = append(sources, bundle.Source{Entry: e, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }})
	}
	sort.Slice(m.Entries, func(i, j int) bool { return m.Entries[i].Path < m.Entries[j].Path })
	sort.Slice(sources, func(i, j int) bool { return sources[i].Entry.Path < sources[j].Entry.Path })
	p := filepath.Join(dir, "upgrade-"+version+".ferry")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := bundle.Write(ctx, f, m, sources, bundle.WithSigner(signer)); err != nil {
		t.Fatalf("write bundle %s: %v", version, err)
	}
	return p
}

package installer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// standinBundle builds the k3s stand-in and a bundle carrying it as k3s.
func standinBundle(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "k3s")
	cmd := exec.Command("go", "build", "-o", bin, "../testdata/k3s-standin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the k3s stand-in: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var files []testFile
	for _, f := range testPayload() {
		if f.entry.Role == bundle.RoleK3sBinary && f.entry.Arch == arch {
			f.data = b
		}
		files = append(files, f)
	}
	return writeBundle(t, bundleOptions{files: files})
}

// TestInstallStartsAndUninstallStops runs the stand-in under the exec
// service manager: install waits for the node to be Ready, a node that
// never gets Ready is rolled back, uninstall stops k3s.
func TestInstallStartsAndUninstallStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the k3s stand-in and waits for it; runs without -short")
	}
	bp := standinBundle(t)
	tests := []struct {
		name      string
		failReady bool
	}{
		{name: "ready"},
		{name: "never ready", failReady: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.failReady {
				os.MkdirAll(filepath.Join(root, "var/lib/rancher/k3s/standin"), 0o755)
				os.WriteFile(filepath.Join(root, "var/lib/rancher/k3s/standin/fail-ready"), nil, 0o644)
			}
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("edge-1\n"), 0o644)
			mgr := &service.Exec{Root: root}
			svc := &ManagedService{Manager: mgr, Root: root, Role: manifests.RoleServer}
			t.Cleanup(func() { _ = mgr.Stop(context.Background(), "k3s") })
			timeout := time.Minute
			if tt.failReady {
				timeout = 5 * time.Second
			}
			res, err := installInto(t, root, bp, func(o *InstallOptions) { o.Service, o.Timeout = svc, timeout })
			ready := filepath.Join(root, "var/lib/rancher/k3s/standin/ready")
			if tt.failReady {
				if !errors.Is(err, ErrRolledBack) {
					t.Fatalf("error %v, want rolled back", err)
				}
				if active, _ := mgr.IsActive(context.Background(), "k3s"); active {
					t.Error("k3s still runs after the rollback")
				}
				for _, p := range []string{"usr/local/bin/k3s", "var/lib/ferry/state.json", "etc/systemd/system/k3s.service"} {
					if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
						t.Errorf("%s survived the rollback", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.Started {
				t.Error("result says not started")
			}
			if b, err := os.ReadFile(ready); err != nil || !strings.Contains(string(b), "server") {
				t.Fatalf("stand-in not ready: %q %v", b, err)
			}
			lh, _ := NewLocalHost(root)
			if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh, Service: svc}}); err != nil {
				t.Fatal(err)
			}
			if active, _ := mgr.IsActive(context.Background(), "k3s"); active {
				t.Error("k3s still runs after uninstall")
			}
			if _, err := os.Stat(filepath.Join(root, "usr/local/bin/k3s")); err == nil {
				t.Error("uninstall left k3s")
			}
		})
	}
}

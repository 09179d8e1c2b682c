package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// failingUnit returns the embedded systemd unit template with
// K3S_STANDIN_FAIL=ready added: a bundle carrying it as a template
// override runs a k3s that starts but never becomes Ready.
func failingUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../manifests/templates/" + manifests.UnitTemplate)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.Replace(string(b), "[Service]\n", "[Service]\nEnvironment=K3S_STANDIN_FAIL=ready\n", 1)
	if unit == string(b) {
		t.Fatal("the unit template has no [Service] section")
	}
	return unit
}

// TestUpgradeRunsNewK3sOrRollsBack installs the k3s stand-in built as
// version A under the exec service manager, upgrades to a bundle whose
// stand-in is version B, and checks status; a B that never becomes Ready
// is rolled back and A runs again.
func TestUpgradeRunsNewK3sOrRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the k3s stand-in twice and waits for it; runs without -short")
	}
	const verA, verB = "v1.31.4+k3s1", "v1.32.1+k3s1"
	a := release{version: "1.4.0", k3s: standinVersion(t, verA)}
	b := release{version: "1.5.0", chartVersion: "4.0.19", k3s: standinVersion(t, verB)}
	bad := b
	bad.templates = map[string]string{manifests.UnitTemplate: failingUnit(t)}
	bpA := a.write(t)
	tests := []struct {
		name        string
		to          release
		timeout     time.Duration
		wantErr     error
		wantBundle  string
		wantK3s     string
		wantPrevous bool
	}{
		{name: "good", to: b, timeout: time.Minute, wantBundle: "1.5.0", wantK3s: verB, wantPrevous: true},
		{name: "never ready", to: bad, timeout: 4 * time.Second, wantErr: ErrRolledBack, wantBundle: "1.4.0", wantK3s: verA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			mgr := &service.Exec{Root: root}
			svc := &ManagedService{Manager: mgr, Root: root, Role: manifests.RoleServer}
			t.Cleanup(func() { _ = mgr.Stop(context.Background(), "k3s") })
			if _, err := installInto(t, root, bpA, func(o *InstallOptions) { o.Service, o.Timeout = svc, time.Minute }); err != nil {
				t.Fatal(err)
			}
			h, _ := NewLocalHost(root)
			before := snapshot(t, filepath.Join(root, "usr"))
			_, err := upgradeWith(t, h, tt.to.write(t), func(o *UpgradeOptions) { o.Service, o.Timeout = svc, tt.timeout })
			if tt.wantErr == nil && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "1.4.0 is in place again") {
					t.Fatalf("error %v, want %v saying 1.4.0 is back", err, tt.wantErr)
				}
				if d := diffSnapshots(before, snapshot(t, filepath.Join(root, "usr"))); d != "" {
					t.Errorf("binaries differ after the rollback:\n%s", d)
				}
			}
			st, err := ReadStatus(context.Background(), StatusOptions{Host: h, Manager: mgr})
			if err != nil {
				t.Fatal(err)
			}
			if st.Bundle.Version != tt.wantBundle || st.K3sVersion != tt.wantK3s {
				t.Errorf("status: bundle %s k3s %q (%s), want %s %s", st.Bundle.Version, st.K3sVersion, st.K3sVersionError, tt.wantBundle, tt.wantK3s)
			}
			if st.Service.Active == nil || !*st.Service.Active || !st.NodeReady {
				t.Errorf("status: service active %v, node ready %v (%s)", st.Service.Active, st.NodeReady, st.NodeMessage)
			}
			if (st.Previous != nil) != tt.wantPrevous {
				t.Errorf("status: previous %+v, want kept=%v", st.Previous, tt.wantPrevous)
			}
			checkConverged(t, root, a, tt.to)
			if !tt.wantPrevous {
				return
			}
			if _, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h, Service: svc, Timeout: time.Minute}}); err != nil {
				t.Fatal(err)
			}
			st, err = ReadStatus(context.Background(), StatusOptions{Host: h, Manager: mgr})
			if err != nil {
				t.Fatal(err)
			}
			if st.K3sVersion != verA || !st.NodeReady || st.Previous == nil || st.Previous.Bundle.Version != "1.5.0" {
				t.Errorf("status after rollback: k3s %s ready %v previous %+v", st.K3sVersion, st.NodeReady, st.Previous)
			}
		})
	}
}

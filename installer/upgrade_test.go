package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
)

var (
	relA = release{version: "1.4.0"}
	relB = release{version: "1.5.0", chartVersion: "4.0.19", dropExtra: true}
)

// installA installs relA into a fresh root (with a foreign k3s and kubectl
// in place) and returns the root and its host.
func installA(t *testing.T, bp string) (string, *LocalHost) {
	t.Helper()
	root := t.TempDir()
	seedForeign(t, root)
	if _, err := installInto(t, root, bp, func(o *InstallOptions) { o.Node.Token = "fixed-token" }); err != nil {
		t.Fatal(err)
	}
	h, _ := NewLocalHost(root)
	return root, h
}

func TestUpgradeRefusesAndChangesNothing(t *testing.T) {
	bpA := relA.write(t)
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name string
		rel  release
		mut  func(*UpgradeOptions)
		want func(error) bool
		msg  string
	}{
		{"older", release{version: "1.3.9"}, nil, isErr(ErrNotNewer), "--allow-downgrade"},
		{"same", relA, nil, isErr(ErrNotNewer), "--reinstall"},
		{"other name", release{name: "other", version: "2.0.0"}, nil, isErr(ErrNotNewer), "--reinstall"},
		{"expired", release{version: "1.5.0", expires: &past}, nil, isErr(bundle.ErrExpired), "expired"},
		{"tampered", release{version: "1.5.0", tamper: "k3s/" + arch + "/k3s"}, nil, func(err error) bool {
			var de *bundle.DigestError
			return errors.As(err, &de) && errors.Is(err, ErrRolledBack)
		}, "k3s"},
		{"unknown chart in site values", relB, func(o *UpgradeOptions) {
			o.SiteValues = SiteValues{"longhorn": {"a": 1}}
		}, func(err error) bool { return err != nil }, "longhorn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, h := installA(t, bpA)
			bp := tt.rel.write(t)
			before := snapshot(t, root)
			_, err := upgradeWith(t, h, bp, tt.mut)
			if !tt.want(err) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v: want one matching the case and mentioning %q", err, tt.msg)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("root changed:\n%s", d)
			}
		})
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// TestUpgradeAndRollbackFiles upgrades without a service (files only),
// rolls back, rolls forward again, then uninstalls.
func TestUpgradeAndRollbackFiles(t *testing.T) {
	bpA, bpB := relA.write(t), relB.write(t)
	root := t.TempDir()
	seedForeign(t, root)
	original := snapshot(t, root)
	if _, err := installInto(t, root, bpA, func(o *InstallOptions) { o.Node.Token = "fixed-token" }); err != nil {
		t.Fatal(err)
	}
	h, _ := NewLocalHost(root)
	read := func(p string) string {
		b, _ := os.ReadFile(h.Local(p))
		return string(b)
	}
	config, env := read(ConfigFile), read("/etc/systemd/system/k3s.service.env")

	var dry bytes.Buffer
	before := snapshot(t, root)
	if _, err := upgradeWith(t, h, bpB, func(o *UpgradeOptions) { o.DryRun, o.DryRunOutput = true, &dry }); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("dry run changed the root:\n%s", d)
	}
	for _, want := range []string{"move /usr/local/bin/k3s to /var/lib/ferry/previous/", "stage and verify", "write /var/lib/ferry/state.json"} {
		if !strings.Contains(dry.String(), want) {
			t.Errorf("dry run lacks %q:\n%s", want, dry.String())
		}
	}

	res, err := upgradeWith(t, h, bpB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.From.Version != "1.4.0" || res.To.Version != "1.5.0" {
		t.Errorf("result %+v", res)
	}
	if v := checkConverged(t, root, relA, relB); v != "1.5.0" {
		t.Fatalf("after upgrade: %s", v)
	}
	if read(ConfigFile) != config || read("/etc/systemd/system/k3s.service.env") != env {
		t.Error("config.yaml or the env file did not carry over")
	}
	hc := read("/var/lib/rancher/k3s/server/manifests/ferry-chart-nfs.yaml")
	for _, want := range []string{"server: 10.0.0.5", "path: /export-4.0.19", "nfs-4.0.19.tgz"} {
		if !strings.Contains(hc, want) {
			t.Errorf("HelmChart after upgrade lacks %q:\n%s", want, hc)
		}
	}
	st, err := ReadState(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if st.Previous == nil || st.Previous.Bundle.Version != "1.4.0" {
		t.Fatalf("previous install not kept: %+v", st.Previous)
	}
	if got := fileDigest(t, h.Local(filepath.Join(st.Previous.Kept, K3sBinary))); got != relA.placed()[K3sBinary] {
		t.Errorf("the previous k3s is not kept in %s", st.Previous.Kept)
	}

	for i, want := range []string{"1.4.0", "1.5.0", "1.4.0"} {
		t.Run(fmt.Sprintf("rollback%d", i+1), func(t *testing.T) {
			res, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}})
			if err != nil {
				t.Fatal(err)
			}
			if res.To.Version != want {
				t.Errorf("rolled back to %s, want %s", res.To.Version, want)
			}
			if v := checkConverged(t, root, relA, relB); v != want {
				t.Fatalf("after rollback: %s, want %s", v, want)
			}
			if read(ConfigFile) != config || read("/etc/systemd/system/k3s.service.env") != env {
				t.Error("config.yaml or the env file changed")
			}
		})
	}
	if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: h}}); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(original, snapshot(t, root)); d != "" {
		t.Fatalf("uninstall after upgrades left:\n%s", d)
	}
}

func TestRollbackWithoutPrevious(t *testing.T) {
	_, h := installA(t, relA.write(t))
	if _, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}}); !errors.Is(err, ErrNoPrevious) {
		t.Fatalf("error %v, want ErrNoPrevious", err)
	}
}

// TestUpgradeNewSiteValuesAndConfig gives new values and a new --config.
func TestUpgradeNewSiteValuesAndConfig(t *testing.T) {
	_, h := installA(t, relA.write(t))
	_, err := upgradeWith(t, h, relB.write(t), func(o *UpgradeOptions) {
		o.SiteValues = SiteValues{"nfs": {"nfs": map[string]any{"server": "10.9.9.9"}}}
		o.Config = map[string]any{"node-name": "edge-7"}
	})
	if err != nil {
		t.Fatal(err)
	}
	hc, _ := os.ReadFile(h.Local("/var/lib/rancher/k3s/server/manifests/ferry-chart-nfs.yaml"))
	if !strings.Contains(string(hc), "server: 10.9.9.9") {
		t.Errorf("new site value not applied:\n%s", hc)
	}
	cfg, _ := os.ReadFile(h.Local(ConfigFile))
	if !strings.Contains(string(cfg), "node-name: edge-7") {
		t.Errorf("new config not applied:\n%s", cfg)
	}
	if _, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}}); err != nil {
		t.Fatal(err)
	}
	cfg, _ = os.ReadFile(h.Local(ConfigFile))
	if strings.Contains(string(cfg), "edge-7") {
		t.Errorf("rollback kept the new config:\n%s", cfg)
	}
}

// TestUpgradeCrashConverges kills an upgrade after each mutating call
// (nothing later reaches the disk, not even its rollback). Recovery alone
// must leave either the old or the new install, never a mix; a rerun of
// the upgrade must then end at the new one. The same is done for a
// rollback.
func TestUpgradeCrashConverges(t *testing.T) {
	bpA, bpB := relA.write(t), relB.write(t)
	tests := []struct {
		name string
		// setup brings a fresh root to the state before the run.
		setup func(t *testing.T) (string, *LocalHost)
		run   func(t *testing.T, h Host) error
		// final is the version a rerun ends at; empty: the other one than
		// recovery left.
		final string
	}{
		{
			name:  "upgrade",
			setup: func(t *testing.T) (string, *LocalHost) { return installA(t, bpA) },
			run: func(t *testing.T, h Host) error {
				_, err := upgradeWith(t, h, bpB, nil)
				if errors.Is(err, ErrNotNewer) {
					return nil // the crashed run had committed
				}
				return err
			},
			final: "1.5.0",
		},
		{
			name: "rollback",
			setup: func(t *testing.T) (string, *LocalHost) {
				root, h := installA(t, bpA)
				if _, err := upgradeWith(t, h, bpB, nil); err != nil {
					t.Fatal(err)
				}
				return root, h
			},
			run: func(t *testing.T, h Host) error {
				_, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, lh := tt.setup(t)
			count := &faultyHost{LocalHost: lh}
			if err := tt.run(t, count); err != nil {
				t.Fatal(err)
			}
			if count.calls < 10 {
				t.Fatalf("only %d mutating calls counted", count.calls)
			}
			step := 1
			if testing.Short() {
				step = 5
			}
			seen := map[string]int{}
			t.Cleanup(func() {
				if len(seen) != 2 {
					t.Errorf("after recovery only %v were seen: the crash points miss one side of the commit", seen)
				}
			})
			for n := 1; n <= count.calls; n += step {
				t.Run(fmt.Sprintf("crash%d", n), func(t *testing.T) {
					root, lh := tt.setup(t)
					_ = tt.run(t, &faultyHost{LocalHost: lh, failAt: n, crash: true})
					if err := recoverStale(context.Background(), lh, io.Discard); err != nil {
						t.Fatalf("recover: %v", err)
					}
					got := checkConverged(t, root, relA, relB)
					seen[got]++
					want := tt.final
					if want == "" { // a rollback run again swaps to the other version
						want = map[string]string{"1.4.0": "1.5.0", "1.5.0": "1.4.0"}[got]
					}
					if err := tt.run(t, lh); err != nil {
						t.Fatalf("rerun: %v", err)
					}
					if v := checkConverged(t, root, relA, relB); v != want {
						t.Fatalf("rerun ended at %s, want %s", v, want)
					}
				})
			}
		})
	}
}

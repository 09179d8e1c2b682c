package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// faultyHost is a LocalHost whose mutating calls are counted. The call
// numbered failAt fails; with crash set, it and every later call fail, as if
// the process had died there (nothing after it reaches the disk).
type faultyHost struct {
	*LocalHost
	op     string // only count this op ("" counts all)
	calls  int
	failAt int
	crash  bool
}

var errInjected = errors.New("injected failure")

func (h *faultyHost) hit(op string) error {
	if h.op != "" && h.op != op {
		if h.crash && h.failAt > 0 && h.calls >= h.failAt {
			return errInjected
		}
		return nil
	}
	h.calls++
	if h.failAt > 0 && (h.calls == h.failAt || (h.crash && h.calls > h.failAt)) {
		return fmt.Errorf("%s call %d: %w", op, h.calls, errInjected)
	}
	return nil
}

func (h *faultyHost) WriteFile(ctx context.Context, p string, r io.Reader, m fs.FileMode) error {
	if err := h.hit("write"); err != nil {
		return err
	}
	return h.LocalHost.WriteFile(ctx, p, r, m)
}

func (h *faultyHost) Rename(ctx context.Context, from, to string) error {
	if err := h.hit("rename"); err != nil {
		return err
	}
	return h.LocalHost.Rename(ctx, from, to)
}

func (h *faultyHost) Symlink(ctx context.Context, target, p string) error {
	if err := h.hit("symlink"); err != nil {
		return err
	}
	return h.LocalHost.Symlink(ctx, target, p)
}

func (h *faultyHost) Remove(ctx context.Context, p string) error {
	if err := h.hit("remove"); err != nil {
		return err
	}
	return h.LocalHost.Remove(ctx, p)
}

func (h *faultyHost) RemoveAll(ctx context.Context, p string) error {
	if err := h.hit("remove"); err != nil {
		return err
	}
	return h.LocalHost.RemoveAll(ctx, p)
}

func (h *faultyHost) Mkdir(ctx context.Context, p string, m fs.FileMode) error {
	if err := h.hit("mkdir"); err != nil {
		return err
	}
	return h.LocalHost.Mkdir(ctx, p, m)
}

// seedForeign puts files that an install replaces or must leave alone.
func seedForeign(t *testing.T, root string) {
	t.Helper()
	for p, c := range map[string]string{
		"usr/local/bin/k3s":             "old k3s",
		"usr/local/bin/kubectl":         "distro kubectl",
		"etc/rancher/k3s/foreign.yaml":  "keep me",
		"etc/rancher/k3s/config.yaml":   "old: config",
		"var/lib/rancher/k3s/agent/x.y": "data",
	} {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func withHost(h Host) func(*InstallOptions) {
	return func(o *InstallOptions) {
		o.Host = h
		o.Node.Token = "fixed-token"
	}
}

// TestFailureInEveryStepLeavesRootUnchanged fails each mutating call of an
// install in turn and checks the rollback restores the root exactly.
func TestFailureInEveryStepLeavesRootUnchanged(t *testing.T) {
	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server"}})
	count := &faultyHost{}
	{
		root := t.TempDir()
		seedForeign(t, root)
		lh, _ := NewLocalHost(root)
		count.LocalHost = lh
		if _, err := installInto(t, root, bp, withHost(count)); err != nil {
			t.Fatal(err)
		}
	}
	if count.calls < 30 {
		t.Fatalf("only %d mutating calls counted; the wrapper is not in the path", count.calls)
	}
	step := 1
	if testing.Short() {
		step = 5
	}
	// The last call removes staging after the commit; its failure is only
	// a warning (TestRerunAfterCrashConverges covers it).
	for n := 1; n < count.calls; n += step {
		t.Run(fmt.Sprintf("call%d", n), func(t *testing.T) {
			root := t.TempDir()
			seedForeign(t, root)
			before := snapshot(t, root)
			lh, _ := NewLocalHost(root)
			h := &faultyHost{LocalHost: lh, failAt: n}
			_, err := installInto(t, root, bp, withHost(h))
			if !errors.Is(err, errInjected) || !errors.Is(err, ErrRolledBack) {
				t.Fatalf("error %v: want the injected failure, rolled back", err)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("root changed after failing call %d:\n%s", n, d)
			}
		})
	}
}

func TestUnwritableDestinationRollsBack(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	// A non-empty directory where a file must go cannot be replaced.
	os.MkdirAll(filepath.Join(root, "usr/local/bin/k3s-killall.sh/inside"), 0o755)
	before := snapshot(t, root)
	_, err := installInto(t, root, bp, nil)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("error %v: want rolled back", err)
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("root changed:\n%s", d)
	}
}

func TestPreflightFailureChangesNothing(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	before := snapshot(t, root)
	_, err := installInto(t, root, bp, func(o *InstallOptions) {
		o.Preflight = func(context.Context, *bundle.Manifest) error { return fmt.Errorf("%w: memory", ErrPreflight) }
	})
	if !errors.Is(err, ErrPreflight) {
		t.Fatalf("error %v: want ErrPreflight", err)
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("root changed:\n%s", d)
	}
}

// TestRerunAfterCrashConverges kills an install after each mutating call
// (nothing later reaches the disk, not even the rollback), reruns it, and
// checks the result is the same tree as a clean install; uninstall then
// brings back exactly the original root.
func TestRerunAfterCrashConverges(t *testing.T) {
	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server"}})
	clean := t.TempDir()
	seedForeign(t, clean)
	original := snapshot(t, clean)
	lh, _ := NewLocalHost(clean)
	count := &faultyHost{LocalHost: lh}
	if _, err := installInto(t, clean, bp, withHost(count)); err != nil {
		t.Fatal(err)
	}
	want := stable(snapshot(t, clean))
	step := 1
	if testing.Short() {
		step = 7
	}
	for n := 1; n <= count.calls; n += step {
		if n+step > count.calls {
			n = count.calls // always crash at the last call too
		}
		t.Run(fmt.Sprintf("crash%d", n), func(t *testing.T) {
			root := t.TempDir()
			seedForeign(t, root)
			lh, _ := NewLocalHost(root)
			_, err := installInto(t, root, bp, withHost(&faultyHost{LocalHost: lh, failAt: n, crash: true}))
			if err == nil && n < count.calls {
				t.Fatal("install survived the crash")
			}
			_, err = installInto(t, root, bp, withHost(lh))
			if err != nil && !errors.Is(err, ErrInstalled) {
				t.Fatalf("rerun: %v", err)
			}
			if d := diffSnapshots(want, stable(snapshot(t, root))); d != "" {
				t.Fatalf("rerun after a crash at call %d differs from a clean install:\n%s", n, d)
			}
			if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh}}); err != nil {
				t.Fatal(err)
			}
			if d := diffSnapshots(original, snapshot(t, root)); d != "" {
				t.Fatalf("uninstall after a crash at call %d left:\n%s", n, d)
			}
		})
	}
}

// stable drops what differs between two equal installs: the install id
// in backup paths and state.json's content.
func stable(s map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s {
		if strings.HasPrefix(k, "var/lib/ferry/backup/") {
			parts := strings.SplitN(k, "/", 6)
			if len(parts) == 6 {
				k = "var/lib/ferry/backup/ID/" + parts[5]
			} else if len(parts) == 5 {
				k = "var/lib/ferry/backup/ID"
			}
		}
		if k == "var/lib/ferry/state.json" {
			v = "state"
		}
		out[k] = v
	}
	return out
}

func TestUninstallLeavesForeignFiles(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	before := snapshot(t, root)
	if _, err := installInto(t, root, bp, func(o *InstallOptions) { o.Node = manifests.Node{Role: manifests.RoleServer} }); err != nil {
		t.Fatal(err)
	}
	// A file k3s or the admin adds after the install must survive.
	if err := os.WriteFile(filepath.Join(root, "etc/rancher/k3s/k3s.yaml"), []byte("kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	lh, _ := NewLocalHost(root)
	var dry strings.Builder
	if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh, DryRun: true, DryRunOutput: &dry}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dry.String(), "restore /usr/local/bin/k3s from") {
		t.Errorf("dry run does not restore the old k3s:\n%s", dry.String())
	}
	st, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Files) == 0 {
		t.Fatal("state listed no files")
	}
	after := snapshot(t, root)
	if after["etc/rancher/k3s/k3s.yaml"] == "" {
		t.Fatal("uninstall removed a file ferry did not place")
	}
	delete(after, "etc/rancher/k3s/k3s.yaml")
	if d := diffSnapshots(before, after); d != "" {
		t.Fatalf("uninstall did not restore the root:\n%s", d)
	}
	if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh}}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second uninstall: %v, want ErrNotInstalled", err)
	}
}

// smallDisk is a LocalHost whose filesystem has only free bytes left.
type smallDisk struct {
	*LocalHost
	free int64
}

func (h *smallDisk) FreeSpace(context.Context, string) (int64, error) { return h.free, nil }

func TestNotEnoughSpaceChangesNothing(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	before := snapshot(t, root)
	lh, _ := NewLocalHost(root)
	_, err := installInto(t, root, bp, withHost(&smallDisk{LocalHost: lh, free: 4096}))
	if err == nil || !strings.Contains(err.Error(), "not enough free space") || !errors.Is(err, ErrRolledBack) {
		t.Fatalf("error %v, want a rolled back free-space error", err)
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("root changed:\n%s", d)
	}
}

package installer

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// wantLocked checks that err is a refusal naming pid.
func wantLocked(t *testing.T, what string, err error, pid int) {
	t.Helper()
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.PID != pid {
		t.Fatalf("%s while another run holds the root: %v, want ErrLocked naming pid %d", what, err, pid)
	}
	if msg := err.Error(); !strings.Contains(msg, "pid "+strconv.Itoa(pid)) || strings.Contains(msg, "\n") || !strings.Contains(msg, "then run again") {
		t.Fatalf("%s: message %q is not one line naming the pid and what to do", what, msg)
	}
}

// checkNoLeftovers checks that no lock file and no staging directory are
// left under root.
func checkNoLeftovers(t *testing.T, root string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(root, LockFile)); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, FerryDir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), stagingPrefix) {
			t.Errorf("staging directory %s left", e.Name())
		}
	}
}

// TestConcurrentInstallsOneRefused holds a first install inside its
// preflight (after it took the lock) and starts a second install, an
// uninstall, an upgrade and a rollback on the same root: each refuses at
// once, naming the pid. The first then completes as if alone.
func TestConcurrentInstallsOneRefused(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := installInto(t, root, bp, func(o *InstallOptions) {
			o.Preflight = func(context.Context, *bundle.Manifest) error {
				close(entered)
				<-release
				return nil
			}
		})
		done <- err
	}()
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("the first install ended before its preflight: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the first install did not reach its preflight in a minute")
	}
	before := snapshot(t, root)
	_, err := installInto(t, root, bp, nil)
	wantLocked(t, "a second install", err, os.Getpid())
	h, _ := NewLocalHost(root)
	if st, err := ReadStatus(context.Background(), StatusOptions{Host: h}); err != nil || st.RunningPID != os.Getpid() || len(st.Interrupted) != 0 {
		t.Errorf("status during the install: %+v %v, want the run's pid and no interrupted run", st, err)
	}
	_, err = Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: h}})
	wantLocked(t, "uninstall", err, os.Getpid())
	_, err = upgradeWith(t, h, bp, func(o *UpgradeOptions) { o.Reinstall = true })
	wantLocked(t, "upgrade", err, os.Getpid())
	_, err = Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}})
	wantLocked(t, "rollback", err, os.Getpid())
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("the refused runs changed the root:\n%s", d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the first install: %v", err)
	}
	if _, err := ReadState(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t, root)
	if st, _ := ReadStatus(context.Background(), StatusOptions{Host: h}); st.RunningPID != 0 {
		t.Errorf("status after the install still names run %d", st.RunningPID)
	}
}

const envLockRoot = "FERRY_LOCK_CHILD_ROOT"

// TestLockChild is the child process of TestLockHeldByAnotherProcess: it
// takes the lock of the root it is given, says so, and holds it until its
// stdin closes. Run directly it skips.
func TestLockChild(t *testing.T) {
	root := os.Getenv(envLockRoot)
	if root == "" {
		t.Skip("helper process of TestLockHeldByAnotherProcess")
	}
	h, err := NewLocalHost(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lockRoot(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	l.unlock(io.Discard)
}

// TestLockHeldByAnotherProcess: while another process holds the lock an
// install refuses naming that process; once the holder is killed (its lock
// file left behind, as after a crash) the install goes ahead.
func TestLockHeldByAnotherProcess(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envLockRoot+"="+root)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("child said %q: %v", line, err)
	}
	_, err := installInto(t, root, bp, nil)
	wantLocked(t, "install", err, cmd.Process.Pid)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Lstat(filepath.Join(root, LockFile)); err != nil {
		t.Fatalf("the killed holder's lock file: %v", err)
	}
	if _, err := installInto(t, root, bp, nil); err != nil {
		t.Fatalf("install after the holder died: %v", err)
	}
	checkNoLeftovers(t, root)
}

// gatedService is the real service whose first wait for the node starts
// only once gate is closed; entered is closed when that wait begins.
type gatedService struct {
	*ManagedService
	entered, gate chan struct{}
	once          bool
}

func (g *gatedService) WaitReady(ctx context.Context, timeout time.Duration) error {
	if !g.once {
		g.once = true
		close(g.entered)
		<-g.gate
	}
	return g.ManagedService.WaitReady(ctx, timeout)
}

// TestConcurrentUpgradeRefusesOthers runs the k3s stand-in under the exec
// manager, upgrades it, and while the upgrade waits for the new node
// starts an uninstall and a second upgrade: both refuse with the pid, and
// the upgrade completes with the new version running and nothing half
// done.
func TestConcurrentUpgradeRefusesOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the k3s stand-in and waits for it; runs without -short")
	}
	const verA, verB = "v1.31.4+k3s1", "v1.32.1+k3s1"
	a := release{version: "1.4.0", k3s: standinVersion(t, verA)}
	b := release{version: "1.5.0", chartVersion: "4.0.19", k3s: standinVersion(t, verB)}
	root := t.TempDir()
	mgr := &service.Exec{Root: root}
	svc := &ManagedService{Manager: mgr, Root: root, Role: manifests.RoleServer}
	t.Cleanup(func() { _ = mgr.Stop(context.Background(), "k3s") })
	if _, err := installInto(t, root, a.write(t), func(o *InstallOptions) { o.Service, o.Timeout = svc, time.Minute }); err != nil {
		t.Fatal(err)
	}
	h, _ := NewLocalHost(root)
	bpB := b.write(t)
	gated := &gatedService{ManagedService: svc, entered: make(chan struct{}), gate: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := upgradeWith(t, h, bpB, func(o *UpgradeOptions) { o.Service, o.Timeout = gated, time.Minute })
		done <- err
	}()
	select {
	case <-gated.entered:
	case err := <-done:
		t.Fatalf("the upgrade ended before it waited for the node: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the upgrade did not reach its wait in two minutes")
	}
	_, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: h, Service: svc}})
	wantLocked(t, "uninstall during an upgrade", err, os.Getpid())
	_, err = upgradeWith(t, h, bpB, func(o *UpgradeOptions) { o.Service, o.Timeout = svc, time.Minute })
	wantLocked(t, "a second upgrade", err, os.Getpid())
	close(gated.gate)
	if err := <-done; err != nil {
		t.Fatalf("the upgrade: %v", err)
	}
	checkConverged(t, root, a, b)
	checkNoLeftovers(t, root)
	st, err := ReadStatus(context.Background(), StatusOptions{Host: h, Manager: mgr})
	if err != nil {
		t.Fatal(err)
	}
	if st.K3sVersion != verB || !st.NodeReady {
		t.Errorf("after the upgrade: k3s %s (%s), ready %v (%s)", st.K3sVersion, st.K3sVersionError, st.NodeReady, st.NodeMessage)
	}
	// Only one k3s runs for the root: the exec manager's pid file names it.
	if on, _ := mgr.IsActive(context.Background(), "k3s"); !on {
		t.Error("k3s is not active after the upgrade")
	}
}

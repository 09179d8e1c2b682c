package nspawntest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the container's life cycle.
const (
	findInitTimeout = 30 * time.Second
	bootTimeout     = 2 * time.Minute
	poweroffTimeout = 60 * time.Second
	killTimeout     = 20 * time.Second
)

// containerPath is the PATH of commands run inside.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// masked are units masked in every copy: in sandboxed hosts dbus-daemon
// cannot set up (inotify and rlimit are denied), and dbus and logind then
// hold the boot in "starting" for minutes. systemctl talks to systemd over
// its private socket and needs neither.
var masked = []string{"dbus.service", "dbus.socket", "systemd-logind.service"}

// Container is one booted copy of the image.
type Container struct {
	// Dir is the container's root directory on the host.
	Dir string
	// Name is the machine name given to systemd-nspawn.
	Name string

	pid     int // host pid of the container's PID 1 (systemd)
	nspawn  *exec.Cmd
	done    chan struct{}
	console *lockedBuffer
	once    sync.Once
	err     error
}

// Start copies the image at img into a new directory under cache and
// boots it with `systemd-nspawn -b --register=no --keep-unit
// --private-network`, then waits until systemd reports the system running
// or degraded. Failures to boot wrap errSkip; see Boot for tests.
func Start(ctx context.Context, img, cache string) (*Container, error) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := "ferry-" + hex.EncodeToString(suffix)
	dir, err := os.MkdirTemp(cache, "run-"+name+"-")
	if err != nil {
		return nil, fmt.Errorf("create container directory: %w", err)
	}
	c := &Container{Dir: dir, Name: name, done: make(chan struct{}), console: &lockedBuffer{}}
	if err := c.prepare(ctx, img); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.boot(ctx); err != nil {
		cerr := c.Close()
		return nil, errors.Join(err, cerr)
	}
	return c, nil
}

func (c *Container) prepare(ctx context.Context, img string) error {
	out, err := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", img+"/.", c.Dir+"/").CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy image %s: %w: %s", img, err, out)
	}
	for _, u := range masked {
		link := filepath.Join(c.Dir, "etc/systemd/system", u)
		_ = os.Remove(link)
		if err := os.Symlink("/dev/null", link); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
	}
	return nil
}

func (c *Container) boot(ctx context.Context) error {
	c.nspawn = exec.Command("systemd-nspawn", "-b", "--register=no", "--keep-unit", "--private-network",
		"--console=read-only", "-M", c.Name, "-D", c.Dir)
	c.nspawn.Stdout = c.console
	c.nspawn.Stderr = c.console
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.nspawn.Start(); err != nil {
		return fmt.Errorf("%w: start systemd-nspawn: %v", errSkip, err)
	}
	go func() {
		_ = c.nspawn.Wait()
		close(c.done)
	}()
	pid, err := c.findInit(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v\nconsole:\n%s", errSkip, err, tail(c.console.String(), 30))
	}
	c.pid = pid
	bctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	state := ""
	// Until systemd has opened its private socket, is-system-running says
	// "offline" at once; --wait only waits once it can connect.
	for bctx.Err() == nil {
		out, _ := c.Exec(bctx, "systemctl", "is-system-running", "--wait")
		switch state = strings.TrimSpace(string(out)); state {
		case "running", "degraded":
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w: systemd-nspawn exited during boot\nconsole:\n%s", errSkip, tail(c.console.String(), 30))
		case <-bctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	failed, _ := c.Exec(ctx, "systemctl", "--failed", "--no-legend", "--no-pager")
	return fmt.Errorf("%w: systemd in the container did not finish booting within %s (state %q); failed units: %s\nconsole:\n%s",
		errSkip, bootTimeout, state, strings.TrimSpace(string(failed)), tail(c.console.String(), 30))
}

// findInit finds the container's PID 1: the child of systemd-nspawn whose
// pid in its own namespace is 1.
func (c *Container) findInit(ctx context.Context) (int, error) {
	deadline := time.Now().Add(findInitTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return 0, fmt.Errorf("systemd-nspawn exited during boot")
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if pid := childInit(c.nspawn.Process.Pid); pid != 0 {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no container init under systemd-nspawn (pid %d) after %s", c.nspawn.Process.Pid, findInitTimeout)
}

// childInit returns the child of parent that is PID 1 of its own pid
// namespace, or 0.
func childInit(parent int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		var ppid int
		var nspid []string
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok {
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
				nspid = strings.Fields(v)
			}
		}
		if ppid == parent && len(nspid) > 1 && nspid[len(nspid)-1] == "1" {
			return pid
		}
	}
	return 0
}

// Exec runs args inside the container (all its namespaces, through
// nsenter) with a clean environment (PATH, HOME=/root, LANG=C) and returns
// combined stdout and stderr. A non-zero exit is an *exec.ExitError.
func (c *Container) Exec(ctx context.Context, args ...string) ([]byte, error) {
	full := append([]string{"-t", strconv.Itoa(c.pid), "-a", "--", "env", "-i",
		"PATH=" + containerPath, "HOME=/root", "LANG=C", "TERM=dumb"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// CopyIn copies the host file hostPath to containerPath inside the
// container, keeping its permission bits.
func (c *Container) CopyIn(hostPath, containerPath string) error {
	src, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	dst := filepath.Join(c.Dir, containerPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fi.Mode().Perm())
	if err != nil {
		return fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("copy in %s: %w", hostPath, err)
	}
	return out.Close()
}

// Console returns what the container printed on its console so far.
func (c *Container) Console() string { return c.console.String() }

// Close powers the container off (systemctl poweroff, then SIGTERM and
// SIGKILL to systemd-nspawn, each bounded) and removes its directory. It
// is safe to call more than once.
func (c *Container) Close() error {
	c.once.Do(func() { c.err = c.close() })
	return c.err
}

func (c *Container) close() error {
	if c.nspawn != nil && c.nspawn.Process != nil {
		if c.pid != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = c.Exec(ctx, "systemctl", "poweroff")
			cancel()
		}
		if !c.waitExit(poweroffTimeout) {
			_ = c.nspawn.Process.Signal(syscall.SIGTERM)
			if !c.waitExit(killTimeout) {
				_ = c.nspawn.Process.Kill()
				if !c.waitExit(killTimeout) {
					return fmt.Errorf("systemd-nspawn (pid %d) still runs after SIGKILL; %s left in place", c.nspawn.Process.Pid, c.Dir)
				}
			}
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove container directory: %w", err)
	}
	return nil
}

func (c *Container) waitExit(d time.Duration) bool {
	select {
	case <-c.done:
		return true
	case <-time.After(d):
		return false
	}
}

// lockedBuffer collects console output from nspawn's copy goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the tail; a boot log is far smaller
		rest := l.b.Bytes()[l.b.Len()-(256<<10):]
		kept := append([]byte(nil), rest...)
		l.b.Reset()
		l.b.Write(kept)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// AddDefaultRoute gives the container's private network a default route,
// which k3s needs to pick a node IP (and preflight checks for): a veth pair
// with both ends inside the container, 203.0.113.254/31 (TEST-NET-3) on
// one end and the route via .255. It runs the host's ip(8) in the
// container's network namespace, since the minimal image has no iproute2;
// a veth pair is used because not every kernel has the dummy driver.
func (c *Container) AddDefaultRoute(ctx context.Context) error {
	for _, args := range [][]string{
		{"link", "add", "ferry0", "type", "veth", "peer", "name", "ferry1"},
		{"addr", "add", "203.0.113.254/31", "dev", "ferry0"},
		{"link", "set", "ferry0", "up"},
		{"link", "set", "ferry1", "up"},
		{"route", "add", "default", "via", "203.0.113.255", "dev", "ferry0", "metric", "1000"},
	} {
		full := append([]string{"-t", strconv.Itoa(c.pid), "-n", "ip"}, args...)
		if out, err := exec.CommandContext(ctx, "nsenter", full...).CombinedOutput(); err != nil {
			return fmt.Errorf("add a default route: ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

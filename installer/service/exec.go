package service

import (
	"bufio"
	"bytes"
	"context"
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

// Exec runs a unit's program directly as a child process, without an init
// system: for tests and for --root end-to-end runs on hosts without systemd
// (chosen by FERRY_SERVICE_MANAGER=exec, never detected).
//
// Start reads <root>/etc/systemd/system/UNIT.service, runs its ExecStart=
// program (resolved under Root) with the unit's Environment= and
// EnvironmentFile= variables (files read under Root), K3S_STANDIN_ROOT set
// to Root when Root is not "/", and stdout and stderr appended to
// <root>/var/log/NAME.log. The process id is kept in
// <root>/run/ferry-exec/NAME.pid so that another process (a later
// `ferry-install uninstall`) can stop it. Enable and Disable manage the
// multi-user.target.wants symlink as `systemctl enable` does; DaemonReload
// does nothing.
type Exec struct {
	// Root is the system root (default "/").
	Root string
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL (default 10s).
	StopTimeout time.Duration
	// StartGrace is how long Start watches for the program exiting at once,
	// which it reports as a failed start (default 300ms).
	StartGrace time.Duration

	mu    sync.Mutex
	procs map[string]*execProc
}

type execProc struct {
	pid  int
	done chan struct{} // closed when the process has been waited for
	err  error         // exit status, valid after done
}

// Name implements Manager.
func (e *Exec) Name() string { return "exec" }

func (e *Exec) root() string { return cleanRoot(e.Root) }

// under joins the host path p below the root lexically: for messages and
// for the log path tests read; files are reached through rootfs.go.
func (e *Exec) under(p string) string { return filepath.Join(e.root(), p) }

// Host paths (inside the root) of the unit file, its enablement link, the
// pid file and the log.
func (e *Exec) unitPath(unit string) string { return "/etc/systemd/system/" + unitFile(unit) }

func (e *Exec) wantsLink(unit string) string {
	return "/etc/systemd/system/multi-user.target.wants/" + unitFile(unit)
}

func (e *Exec) pidFile(unit string) string { return "/run/ferry-exec/" + serviceName(unit) + ".pid" }

func (e *Exec) logFile(unit string) string { return "/var/log/" + serviceName(unit) + ".log" }

// LogPath returns where Exec writes unit's output: <root>/var/log/NAME.log.
func (e *Exec) LogPath(unit string) string { return e.under(e.logFile(unit)) }

// DaemonReload implements Manager; Exec reads the unit file on each Start.
func (e *Exec) DaemonReload(ctx context.Context) error { return nil }

// Enable implements Manager.
func (e *Exec) Enable(ctx context.Context, unit string) error {
	if err := symlinkInRoot(e.root(), e.unitPath(unit), e.wantsLink(unit)); err != nil {
		return fmt.Errorf("enable %s: %w", unitFile(unit), err)
	}
	return nil
}

// Disable implements Manager.
func (e *Exec) Disable(ctx context.Context, unit string) error {
	if err := removeInRoot(e.root(), e.wantsLink(unit)); err != nil {
		return fmt.Errorf("disable %s: %w", unitFile(unit), err)
	}
	return nil
}

// IsEnabled implements Manager.
func (e *Exec) IsEnabled(ctx context.Context, unit string) (bool, error) {
	return existsInRoot(e.root(), e.wantsLink(unit)), nil
}

// Start implements Manager. Starting a unit that runs already does
// nothing, as with systemctl.
func (e *Exec) Start(ctx context.Context, unit string) error {
	if active, _ := e.IsActive(ctx, unit); active {
		return nil
	}
	cmd, logf, err := e.command(unit)
	if err != nil {
		return fmt.Errorf("start %s: %w", unitFile(unit), err)
	}
	defer logf.Close()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", unitFile(unit), err)
	}
	p := &execProc{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	e.mu.Lock()
	if e.procs == nil {
		e.procs = map[string]*execProc{}
	}
	e.procs[serviceName(unit)] = p
	e.mu.Unlock()
	if err := writePid(e.root(), e.pidFile(unit), p.pid); err != nil {
		return fmt.Errorf("start %s: %w", unitFile(unit), err)
	}
	grace := e.StartGrace
	if grace <= 0 {
		grace = 300 * time.Millisecond
	}
	select {
	case <-p.done:
		_ = removeInRoot(e.root(), e.pidFile(unit))
		return fmt.Errorf("start %s: exited at once (%v); last log lines from %s:\n%s",
			unitFile(unit), p.err, e.LogPath(unit), strings.Join(tailInRoot(e.root(), e.logFile(unit), 20), "\n"))
	case <-time.After(grace):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("start %s: %w", unitFile(unit), ctx.Err())
	}
}

// command builds the unit's process and opens its log file.
func (e *Exec) command(unit string) (*exec.Cmd, *os.File, error) {
	b, err := readInRoot(e.root(), e.unitPath(unit))
	if err != nil {
		return nil, nil, fmt.Errorf("read unit file: %w", err)
	}
	spec, err := parseUnit(b)
	if err != nil {
		return nil, nil, fmt.Errorf("parse %s: %w", e.unitPath(unit), err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	env = append(env, spec.Env...)
	for _, f := range spec.EnvFiles {
		b, err := readInRoot(e.root(), f.Path)
		if errors.Is(err, os.ErrNotExist) && f.Optional {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read EnvironmentFile: %w", err)
		}
		env = append(env, parseEnvFile(b)...)
	}
	if e.root() != "/" {
		env = append(env, "K3S_STANDIN_ROOT="+e.root())
	}
	if !filepath.IsAbs(spec.Argv[0]) {
		return nil, nil, fmt.Errorf("ExecStart= program %q is not an absolute path", spec.Argv[0])
	}
	prog, err := localInRoot(e.root(), spec.Argv[0])
	if err != nil {
		return nil, nil, fmt.Errorf("ExecStart= program: %w", err)
	}
	logf, err := appendInRoot(e.root(), e.logFile(unit))
	if err != nil {
		return nil, nil, fmt.Errorf("open log: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        prog,
		Args:        spec.Argv,
		Env:         env,
		Dir:         e.root(),
		Stdout:      logf,
		Stderr:      logf,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	return cmd, logf, nil
}

// Stop implements Manager: SIGTERM, then SIGKILL after StopTimeout.
// Stopping a unit that does not run does nothing.
func (e *Exec) Stop(ctx context.Context, unit string) error {
	timeout := e.StopTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	e.mu.Lock()
	p := e.procs[serviceName(unit)]
	delete(e.procs, serviceName(unit))
	e.mu.Unlock()
	pid := 0
	gone := func() bool { return !e.alive(unit, pid) }
	if p != nil {
		pid = p.pid
		gone = func() bool {
			select {
			case <-p.done:
				return true
			default:
				return false
			}
		}
	} else if pid = e.recordedPid(unit); pid == 0 {
		return nil
	}
	defer removeInRoot(e.root(), e.pidFile(unit))
	if gone() {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: signal %d: %w", unitFile(unit), pid, err)
	}
	if waitGone(ctx, gone, timeout) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(ctx, gone, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("stop %s: process %d still runs %s after SIGKILL", unitFile(unit), pid, timeout+5*time.Second)
}

// waitGone polls gone every 50ms until it reports true or d passes.
func waitGone(ctx context.Context, gone func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if gone() {
			return true
		}
		select {
		case <-ctx.Done():
			return gone()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return gone()
}

// IsActive implements Manager.
func (e *Exec) IsActive(ctx context.Context, unit string) (bool, error) {
	e.mu.Lock()
	p := e.procs[serviceName(unit)]
	e.mu.Unlock()
	if p != nil {
		select {
		case <-p.done:
			return false, nil
		default:
			// Another Exec may have stopped it: the process is then a
			// zombie (or gone) before our Wait returns.
			return e.alive(unit, p.pid), nil
		}
	}
	pid := e.recordedPid(unit)
	return pid != 0 && e.alive(unit, pid), nil
}

// recordedPid returns the pid in unit's pid file, or 0.
func (e *Exec) recordedPid(unit string) int {
	b, err := readInRoot(e.root(), e.pidFile(unit))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// alive reports whether pid runs (not a zombie) and is the unit's program,
// so that a recycled pid is not mistaken for it.
func (e *Exec) alive(unit string, pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	b, err := readInRoot(e.root(), e.unitPath(unit))
	if err != nil {
		return true // unit file gone (uninstall under way): trust the pid file
	}
	spec, err := parseUnit(b)
	if err != nil {
		return true
	}
	prog, err := localInRoot(e.root(), spec.Argv[0])
	return err == nil && strings.TrimSuffix(exe, " (deleted)") == prog
}

// writePid records pid in the host path p of root.
func writePid(root, p string, pid int) error {
	if err := writeInRoot(root, p, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("record pid: %w", err)
	}
	return nil
}

// tailInRoot returns up to n last lines of host path p of root (nil when
// it cannot be read); at most the last maxRootFile bytes are looked at.
func tailInRoot(root, p string, n int) []string {
	r, err := openRoot(root)
	if err != nil {
		return nil
	}
	f, err := r.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxRootFile {
		_, _ = f.Seek(fi.Size()-maxRootFile, io.SeekStart)
	}
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

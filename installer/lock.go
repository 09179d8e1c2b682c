package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferry-k3s/ferry/installer/hostfs"
)

// ErrLocked: another ferry-install run holds the root's lock (LockFile).
// Nothing was changed. It should get its own exit code (see the README).
var ErrLocked = errors.New("another ferry-install run holds this root")

// LockedError names the run that holds the lock. It matches ErrLocked.
type LockedError struct {
	// Root is the host's root, Path the lock file's host path.
	Root, Path string
	// PID is the holder's process id as it wrote it; 0 when unknown.
	PID int
}

func (e *LockedError) Error() string {
	who := "pid " + strconv.Itoa(e.PID)
	if e.PID == 0 {
		who = "pid unknown"
	}
	return fmt.Sprintf("%v (%s holds %s under %s): wait for that run to finish (or stop it), then run again", ErrLocked, who, e.Path, e.Root)
}

// Is makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// HeldLock is a lock file this process holds (see Host.Lock).
type HeldLock interface {
	// Created lists the directories Lock made for the file, outermost
	// first; the run that took the lock owns them.
	Created() []string
	// Release removes the lock file and gives the lock up.
	Release() error
}

// runLock holds the root for one command: install, upgrade, rollback or
// uninstall take it before crash recovery and give it up when they return,
// after the wait for the node.
type runLock struct {
	h    Host
	held HeldLock
	// dirs are removed, deepest first, when empty once the lock is given
	// up: those Lock made, FerryDir (ferry's own), and any a command hands
	// over (uninstall's, which still held the lock file).
	dirs []string
}

// lockRoot takes the root's lock or fails at once with a *LockedError.
func lockRoot(ctx context.Context, h Host) (*runLock, error) {
	held, err := h.Lock(ctx, LockFile)
	if err != nil {
		return nil, err
	}
	return &runLock{h: h, held: held, dirs: append([]string{FerryDir}, held.Created()...)}, nil
}

// removeOnUnlock adds directories to remove, when empty, after the lock
// file is gone.
func (l *runLock) removeOnUnlock(dirs ...string) { l.dirs = append(l.dirs, dirs...) }

// unlock gives the lock up and removes the directories that are empty.
// It uses a context that is not cancelled, like undo.
func (l *runLock) unlock(log io.Writer) {
	if err := l.held.Release(); err != nil {
		fmt.Fprintf(log, "warning: %v (remove %s by hand)\n", err, LockFile)
	}
	removeEmptyDirs(context.WithoutCancel(context.Background()), l.h, l.dirs)
}

// localLock is a lock file held through a descriptor opened inside the
// root.
type localLock struct {
	fs      *hostfs.Root
	path    string
	f       *os.File
	created []string
}

func (l *localLock) Created() []string { return l.created }

// Release removes the file while still holding the lock (a run that
// opened it meanwhile sees that it is gone and opens it afresh), then
// closes it, which gives up the flock.
func (l *localLock) Release() error {
	err := l.fs.Remove(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lock implements Host: flock(LOCK_EX|LOCK_NB) on path, opened inside the
// root with O_NOFOLLOW; missing parents are made 0700. The holder's pid is
// written into the file, so that a second run can name it.
func (h *LocalHost) Lock(ctx context.Context, p string) (HeldLock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	created, err := mkdirAllFS(h.fs, path.Dir(p))
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	undo := func() {
		for i := len(created) - 1; i >= 0; i-- {
			_ = h.fs.Remove(created[i])
		}
	}
	// A holder that releases between our open and our flock has removed
	// the file we opened: open again (a few times at most).
	for range 8 {
		f, err := h.fs.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			undo()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			pid := holderPID(f)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &LockedError{Root: h.root, Path: p, PID: pid}
			}
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if !stillLinked(f, h.fs, p) {
			f.Close()
			continue
		}
		err = f.Truncate(0)
		if err == nil {
			_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		if err != nil {
			_ = h.fs.Remove(p)
			f.Close()
			undo()
			return nil, fmt.Errorf("lock %s: write the pid: %w", p, err)
		}
		return &localLock{fs: h.fs, path: p, f: f, created: created}, nil
	}
	undo()
	return nil, fmt.Errorf("lock %s: the file kept being replaced: %w", p, ErrLocked)
}

// stillLinked reports whether the open f is still the file at host path p.
func stillLinked(f *os.File, r *hostfs.Root, p string) bool {
	var a unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &a); err != nil {
		return false
	}
	fi, err := r.Lstat(p)
	if err != nil {
		return false
	}
	b, ok := fi.Sys().(*unix.Stat_t)
	return ok && a.Dev == b.Dev && a.Ino == b.Ino
}

// holderPID reads the pid the holder wrote. The holder writes it just
// after taking the lock, so an empty file is read again for up to 200 ms.
func holderPID(f *os.File) int {
	buf := make([]byte, 32)
	for range 20 {
		n, _ := f.ReadAt(buf, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0
}

// mkdirAllFS creates the host directory p and its missing parents (0700)
// directly through the root, returning those it made, outermost first.
func mkdirAllFS(r *hostfs.Root, p string) ([]string, error) {
	var missing []string
	for d := path.Clean(p); d != "/"; d = path.Dir(d) {
		fi, err := r.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return nil, fmt.Errorf("%s exists and is not a directory", d)
			}
			break
		}
		if li, lerr := r.Lstat(d); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link that leads to no directory inside the root (links are resolved inside it): remove the link, or create its target inside the root", d)
		}
		missing = append(missing, d)
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := r.Mkdir(missing[i], 0o700); err != nil {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// LockHolder reports the pid of the process holding the lock file at p,
// without taking it (a shared flock, even brief, would make a run that
// starts meanwhile refuse): the file's inode is looked up among the
// FLOCK entries of /proc/locks. held is false when no process holds it.
func (h *LocalHost) LockHolder(ctx context.Context, p string) (pid int, held bool) {
	fi, err := h.fs.Lstat(p)
	if err != nil {
		return 0, false
	}
	st, ok := fi.Sys().(*unix.Stat_t)
	if !ok {
		return 0, false
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, false
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(b), "\n") {
		// 1: FLOCK  ADVISORY  WRITE 6409 fe:00:9979121 0 EOF
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[5] == want {
			pid, _ = strconv.Atoi(f[4])
			return pid, true
		}
	}
	return 0, false
}

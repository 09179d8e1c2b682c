package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ferry-k3s/ferry/internal/directio"
)

// Host is the machine the installer changes. Every path it takes is an
// absolute path as the installed system sees it ("/etc/rancher/k3s/..."),
// never a path of the machine running ferry-install, so that the same phases
// serve the local root, an alternate --root and (later) a host over SSH.
type Host interface {
	// Root names the host's root for messages ("/" or the --root directory).
	Root() string
	// WriteFile writes r to path atomically: a temporary file beside path,
	// fsynced, renamed over path, then the directory fsynced. The parent
	// directory must exist.
	WriteFile(ctx context.Context, path string, r io.Reader, mode fs.FileMode) error
	// Rename moves from to to atomically (replacing to) and fsyncs both
	// directories. Across filesystems it copies to a temporary name beside
	// to, renames that, then removes from.
	Rename(ctx context.Context, from, to string) error
	// Symlink creates path as a symbolic link to target.
	Symlink(ctx context.Context, target, path string) error
	// Remove removes a file, a link or an empty directory.
	Remove(ctx context.Context, path string) error
	// RemoveAll removes path and everything below it.
	RemoveAll(ctx context.Context, path string) error
	// Mkdir creates one directory (its parent must exist) and fsyncs the
	// parent, so that the new entry survives a power cut.
	Mkdir(ctx context.Context, path string, mode fs.FileMode) error
	// Stat describes path without following a final symbolic link.
	Stat(ctx context.Context, path string) (fs.FileInfo, error)
	// Open opens a regular file for reading.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// ReadDir lists a directory.
	ReadDir(ctx context.Context, path string) ([]fs.DirEntry, error)
	// FreeSpace returns the bytes available to root on path's filesystem.
	FreeSpace(ctx context.Context, path string) (int64, error)
	// Run runs a command on the host and returns its combined output.
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// LocalHost is the machine ferry-install runs on, seen through a root
// directory ("/" normally; a disk image's mount point with --root). Paths
// are joined below the root lexically: symbolic links inside an alternate
// root that point outside it are followed, so the root must be trusted.
type LocalHost struct {
	root string
}

// NewLocalHost returns a Host rooted at root (default "/"). root must be an
// existing directory.
func NewLocalHost(root string) (*LocalHost, error) {
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w: pass an existing directory to --root", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory: pass a directory to --root", root)
	}
	return &LocalHost{root: abs}, nil
}

// Root returns the root directory.
func (h *LocalHost) Root() string { return h.root }

// Local returns the path of the machine running ferry-install that holds
// the host path p.
func (h *LocalHost) Local(p string) string {
	return filepath.Join(h.root, filepath.FromSlash(path.Clean("/"+p)))
}

// WriteFile implements Host.
func (h *LocalHost) WriteFile(ctx context.Context, p string, r io.Reader, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeAtomic(h.Local(p), r, mode)
}

func writeAtomic(dst string, r io.Reader, mode fs.FileMode) (err error) {
	dir := filepath.Dir(dst)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return writeErr(dst, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = copyToFile(f, r); err != nil {
		return writeErr(dst, err)
	}
	if err = f.Chmod(mode.Perm()); err != nil {
		return writeErr(dst, err)
	}
	if err = f.Sync(); err != nil {
		return writeErr(dst, err)
	}
	if err = f.Close(); err != nil {
		return writeErr(dst, err)
	}
	if err = os.Rename(tmp, dst); err != nil {
		return writeErr(dst, err)
	}
	return syncDir(dir)
}

// copyToFile copies r into the new file f: with O_DIRECT where the file
// system takes it (large staged files then neither crowd the page cache
// nor wait behind other dirty data, and the fsync after has nothing to
// flush), else through the page cache with early writeback.
func copyToFile(f *os.File, r io.Reader) error {
	var w *directio.Writer
	if !pageCacheOnly {
		w = directio.NewWriter(f)
	}
	if w == nil {
		return copyWithWriteback(f, r)
	}
	if _, err := w.ReadFrom(r); err != nil {
		w.Abort()
		return err
	}
	return w.Flush()
}

// pageCacheOnly turns O_DIRECT off (tests of the fallback).
var pageCacheOnly = false

// writebackChunk is how much copied data copyWithWriteback lets pile up
// before it asks the kernel to start writing it out (8 MiB).
const writebackChunk = 8 << 20

// copyWithWriteback copies r to f and, every writebackChunk, asks the
// kernel to start writing what was copied to disk (sync_file_range with
// SYNC_FILE_RANGE_WRITE, which does not wait). The disk then works while
// the bundle is still decompressing, and the fsync that follows has little
// left to wait for: on the benchmark's 759 MiB bundle it took install
// from 1.4-1.5 s to 0.9-1.0 s. It is only a hint: durability still comes
// from the fsync.
func copyWithWriteback(f *os.File, r io.Reader) error {
	buf := make([]byte, 256<<10)
	var off, started int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := f.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
			if off-started >= writebackChunk {
				_ = unix.SyncFileRange(int(f.Fd()), started, off-started, unix.SYNC_FILE_RANGE_WRITE)
				started = off
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// writeErr names the file and, for a full disk, says what to do.
func writeErr(dst string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("write %s: %w: free space on that filesystem (df -h %s) and run again", dst, err, filepath.Dir(dst))
	}
	return fmt.Errorf("write %s: %w", dst, err)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Rename implements Host.
func (h *LocalHost) Rename(ctx context.Context, from, to string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	src, dst := h.Local(from), h.Local(to)
	err := os.Rename(src, dst)
	if errors.Is(err, syscall.EXDEV) {
		return h.copyAcross(src, dst)
	}
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return err
	}
	return syncDir(filepath.Dir(src))
}

// copyAcross moves a file or symbolic link between filesystems.
func (h *LocalHost) copyAcross(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("move %s: %w", src, err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("move %s: %w", src, err)
		}
		tmp := dst + ".ferry-link"
		os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			return fmt.Errorf("move %s: %w", src, err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("move %s: %w", src, err)
		}
	case fi.Mode().IsRegular():
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("move %s: %w", src, err)
		}
		err = writeAtomic(dst, f, fi.Mode())
		f.Close()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("move %s to %s: not a regular file or link, and the paths are on different filesystems", src, dst)
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("move %s: %w", src, err)
	}
	return syncDir(filepath.Dir(dst))
}

// Symlink implements Host.
func (h *LocalHost) Symlink(ctx context.Context, target, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Symlink(target, h.Local(p)); err != nil {
		return fmt.Errorf("link %s: %w", p, err)
	}
	return syncDir(filepath.Dir(h.Local(p)))
}

// Remove implements Host.
func (h *LocalHost) Remove(ctx context.Context, p string) error {
	if err := os.Remove(h.Local(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// RemoveAll implements Host.
func (h *LocalHost) RemoveAll(ctx context.Context, p string) error {
	if path.Clean("/"+p) == "/" {
		return fmt.Errorf("remove %s: refusing to remove the root", p)
	}
	if err := os.RemoveAll(h.Local(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// Mkdir implements Host.
func (h *LocalHost) Mkdir(ctx context.Context, p string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Mkdir(h.Local(p), mode); err != nil {
		return fmt.Errorf("create directory %s: %w", p, err)
	}
	return syncDir(filepath.Dir(h.Local(p)))
}

// Stat implements Host.
func (h *LocalHost) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	return os.Lstat(h.Local(p))
}

// Open implements Host.
func (h *LocalHost) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	return os.Open(h.Local(p))
}

// ReadDir implements Host.
func (h *LocalHost) ReadDir(ctx context.Context, p string) ([]fs.DirEntry, error) {
	return os.ReadDir(h.Local(p))
}

// FreeSpace implements Host.
func (h *LocalHost) FreeSpace(ctx context.Context, p string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(h.Local(p), &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", p, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Run implements Host. With an alternate root the command still runs on
// this machine; callers decide whether that makes sense.
func (h *LocalHost) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("run %s: %w", name, err)
	}
	return out, nil
}

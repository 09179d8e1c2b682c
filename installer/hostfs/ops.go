package hostfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	"golang.org/x/sys/unix"
)

// maxDepth bounds how deep RemoveAll descends (a hostile tree cannot
// exhaust the stack).
const maxDepth = 256

// Lstat describes host path p without following its last component.
func (r *Root) Lstat(p string) (fs.FileInfo, error) {
	dir, name, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if name == "" {
		err = unix.Fstat(dir, &st)
	} else {
		err = unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return nil, pathErr("lstat", p, err)
	}
	return newInfo(path.Base(path.Clean("/"+p)), &st), nil
}

// Stat describes what host path p leads to, following links inside the
// root.
func (r *Root) Stat(p string) (fs.FileInfo, error) {
	rel, err := relPath(p)
	if err != nil {
		return nil, err
	}
	fd, err := r.openIn(rel, unix.O_PATH, 0)
	if err != nil {
		return nil, pathErr("stat", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, pathErr("stat", p, err)
	}
	return newInfo(path.Base(path.Clean("/"+p)), &st), nil
}

// Open opens the regular file host path p leads to (links followed inside
// the root) for reading. Anything else (a FIFO that would block, a device)
// is refused.
func (r *Root) Open(p string) (*os.File, error) {
	rel, err := relPath(p)
	if err != nil {
		return nil, err
	}
	fd, err := r.openIn(rel, unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, pathErr("open", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: not a regular file", path.Clean("/"+p))
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, pathErr("open", p, err)
	}
	return os.NewFile(uintptr(fd), r.Local(p)), nil
}

// OpenFile opens host path p with flag (os.O_* values) and perm, its
// parents resolved inside the root and its last component never followed
// (O_NOFOLLOW): a link there is an error.
func (r *Root) OpenFile(p string, flag int, perm fs.FileMode) (*os.File, error) {
	dir, name, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	if name == "" {
		return nil, fmt.Errorf("open %s: is the root", p)
	}
	fd, err := unix.Openat(dir, name, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, uint32(perm.Perm()))
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	return os.NewFile(uintptr(fd), r.Local(p)), nil
}

// ReadDir lists the directory host path p leads to (links followed inside
// the root), sorted by name. Each entry's Info describes the entry itself
// (not followed), read through the directory's descriptor.
func (r *Root) ReadDir(p string) ([]fs.DirEntry, error) {
	rel, err := relPath(p)
	if err != nil {
		return nil, err
	}
	fd, err := r.openIn(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	f := os.NewFile(uintptr(fd), r.Local(p))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, pathErr("readdir", p, err)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(f.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed since the listing
			}
			return nil, pathErr("lstat", path.Join(p, n), err)
		}
		out = append(out, fs.FileInfoToDirEntry(newInfo(n, &st)))
	}
	return out, nil
}

// Readlink returns the target of the link at host path p.
func (r *Root) Readlink(p string) (string, error) {
	dir, name, err := r.parent(p)
	if err != nil {
		return "", err
	}
	defer unix.Close(dir)
	t, err := readlinkat(dir, name)
	return t, pathErr("readlink", p, err)
}

// Mkdir creates the directory host path p (its parent must exist) and
// fsyncs the parent.
func (r *Root) Mkdir(p string, perm fs.FileMode) error {
	dir, name, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if name == "" {
		return pathErr("mkdir", p, unix.EEXIST)
	}
	if err := unix.Mkdirat(dir, name, uint32(perm.Perm())); err != nil {
		return pathErr("mkdir", p, err)
	}
	return syncFd(dir, path.Dir(path.Clean("/"+p)))
}

// Symlink creates host path p as a link to target and fsyncs the parent.
// The target is stored as given; it is resolved inside the root when read.
func (r *Root) Symlink(target, p string) error {
	dir, name, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if name == "" {
		return pathErr("symlink", p, unix.EEXIST)
	}
	if err := unix.Symlinkat(target, dir, name); err != nil {
		return pathErr("symlink", p, err)
	}
	return syncFd(dir, path.Dir(path.Clean("/"+p)))
}

// Remove removes the file, link or empty directory at host path p (a
// link itself, never its target).
func (r *Root) Remove(p string) error {
	dir, name, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if name == "" {
		return fmt.Errorf("remove %s: refusing to remove the root", p)
	}
	err = unix.Unlinkat(dir, name, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		if e := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR); e == nil || err == unix.EISDIR {
			err = e
		}
	}
	return pathErr("remove", p, err)
}

// RemoveAll removes host path p and everything below it, through
// directory descriptors: a link anywhere below is removed, never
// followed. A missing p is not an error.
func (r *Root) RemoveAll(p string) error {
	dir, name, err := r.parent(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if name == "" {
		return fmt.Errorf("remove %s: refusing to remove the root", p)
	}
	return pathErr("remove", p, removeAllAt(dir, name, 0))
}

func removeAllAt(dir int, name string, depth int) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(dir, name, 0); err != nil && err != unix.ENOENT {
			return err
		}
		return nil
	}
	if depth >= maxDepth {
		return fmt.Errorf("more than %d directories deep: %w", maxDepth, unix.ELOOP)
	}
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	for {
		names, err := f.Readdirnames(1024)
		for _, n := range names {
			if err := removeAllAt(fd, n, depth+1); err != nil {
				f.Close()
				return err
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
	}
	f.Close()
	if err := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

// ErrCrossDevice is returned by Rename when from and to are on different
// filesystems; the caller copies instead.
var ErrCrossDevice = unix.EXDEV

// Rename moves host path from to host path to atomically (replacing to;
// neither last component is followed) and fsyncs both directories.
func (r *Root) Rename(from, to string) error {
	fdir, fname, err := r.parent(from)
	if err != nil {
		return err
	}
	defer unix.Close(fdir)
	tdir, tname, err := r.parent(to)
	if err != nil {
		return err
	}
	defer unix.Close(tdir)
	if fname == "" || tname == "" {
		return fmt.Errorf("rename %s to %s: refusing to move the root", from, to)
	}
	if err := unix.Renameat(fdir, fname, tdir, tname); err != nil {
		return &os.LinkError{Op: "rename", Old: path.Clean("/" + from), New: path.Clean("/" + to), Err: err}
	}
	if err := syncFd(tdir, path.Dir(to)); err != nil {
		return err
	}
	return syncFd(fdir, path.Dir(from))
}

// WriteFile writes host path p atomically: fill writes a new temporary
// file beside p (created O_EXCL|O_NOFOLLOW in p's directory, resolved
// inside the root), which is then given perm, fsynced, renamed over p
// (replacing a link at p, never writing through it), and the directory is
// fsynced. On any failure the temporary file is removed.
func (r *Root) WriteFile(p string, perm fs.FileMode, fill func(*os.File) error) (err error) {
	dir, name, err := r.parent(p)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if name == "" {
		return fmt.Errorf("write %s: is the root", p)
	}
	var tmp string
	var fd int
	for range 100 {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		tmp = "." + name + ".tmp-" + hex.EncodeToString(b)
		if len(tmp) > 255 {
			tmp = ".ferry.tmp-" + hex.EncodeToString(b)
		}
		fd, err = unix.Openat(dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != unix.EEXIST {
			break
		}
	}
	if err != nil {
		return pathErr("create", path.Join(path.Dir(path.Clean("/"+p)), tmp), err)
	}
	f := os.NewFile(uintptr(fd), r.Local(path.Join(path.Dir(path.Clean("/"+p)), tmp)))
	defer func() {
		if err != nil {
			f.Close()
			_ = unix.Unlinkat(dir, tmp, 0)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Chmod(perm.Perm()); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = unix.Renameat(dir, tmp, dir, name); err != nil {
		return pathErr("rename", p, err)
	}
	return syncFd(dir, path.Dir(path.Clean("/"+p)))
}

// Statfs describes the filesystem host path p leads to.
func (r *Root) Statfs(p string) (*unix.Statfs_t, error) {
	rel, err := relPath(p)
	if err != nil {
		return nil, err
	}
	fd, err := r.openIn(rel, unix.O_PATH, 0)
	if err != nil {
		return nil, pathErr("statfs", p, err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return nil, pathErr("statfs", p, err)
	}
	return &st, nil
}

// SyncDir fsyncs the directory host path p leads to.
func (r *Root) SyncDir(p string) error {
	rel, err := relPath(p)
	if err != nil {
		return err
	}
	fd, err := r.openIn(rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return pathErr("sync", p, err)
	}
	defer unix.Close(fd)
	return syncFd(fd, p)
}

// syncFd fsyncs a directory; filesystems that cannot (EINVAL) are let be.
// An O_PATH descriptor cannot be fsynced, so it is reopened first.
func syncFd(fd int, p string) error {
	d, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("sync", p, err)
	}
	defer unix.Close(d)
	if err := unix.Fsync(d); err != nil && err != unix.EINVAL {
		return pathErr("sync", p, err)
	}
	return nil
}

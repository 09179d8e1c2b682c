package service

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/ferry-k3s/ferry/installer/hostfs"
)

// The helpers below read and change files of a root through
// installer/hostfs, the installer's one rule for paths inside a root: a
// link in the root never leads outside it. Paths are host paths
// ("/etc/systemd/system/k3s.service").

// maxRootFile caps what is read from one file of the root (unit files,
// env files, pid files, config.yaml): 1 MiB.
const maxRootFile = 1 << 20

func openRoot(root string) (*hostfs.Root, error) { return hostfs.Open(cleanRoot(root)) }

// readInRoot reads host path p of root, at most maxRootFile bytes.
func readInRoot(root, p string) ([]byte, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	f, err := r.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxRootFile))
}

// isDirInRoot reports whether host path p of root leads to a directory.
func isDirInRoot(root, p string) bool {
	r, err := openRoot(root)
	if err != nil {
		return false
	}
	fi, err := r.Stat(p)
	return err == nil && fi.IsDir()
}

// existsInRoot reports whether anything, even a dangling link, is at p.
func existsInRoot(root, p string) bool {
	r, err := openRoot(root)
	if err != nil {
		return false
	}
	_, err = r.Lstat(p)
	return err == nil
}

// localInRoot returns the path on this machine that host path p of root
// leads to, links resolved inside the root (to run a program of the root).
func localInRoot(root, p string) (string, error) {
	r, err := openRoot(root)
	if err != nil {
		return "", err
	}
	hp, err := r.Resolve(p)
	if err != nil {
		return "", err
	}
	return r.Local(hp), nil
}

// mkdirAllInRoot creates host directory p of root and its missing parents.
func mkdirAllInRoot(r *hostfs.Root, p string) error {
	if fi, err := r.Stat(p); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &os.PathError{Op: "mkdir", Path: p, Err: errors.New("exists and is not a directory")}
	}
	if d := path.Dir(p); d != p {
		if err := mkdirAllInRoot(r, d); err != nil {
			return err
		}
	}
	if err := r.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// symlinkInRoot creates host path p of root as a link to target, with its
// parent directories; an existing p is left as it is.
func symlinkInRoot(root, target, p string) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	if err := mkdirAllInRoot(r, path.Dir(p)); err != nil {
		return err
	}
	if err := r.Symlink(target, p); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// removeInRoot removes host path p of root; a missing p is not an error.
func removeInRoot(root, p string) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	if err := r.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeInRoot writes b to host path p of root atomically, with its parent
// directories.
func writeInRoot(root, p string, b []byte, perm fs.FileMode) error {
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	if err := mkdirAllInRoot(r, path.Dir(p)); err != nil {
		return err
	}
	return r.WriteFile(p, perm, func(f *os.File) error { _, err := f.Write(b); return err })
}

// appendInRoot opens host path p of root for appending (created 0640 with
// its parents; a link at p is refused).
func appendInRoot(root, p string) (*os.File, error) {
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	if err := mkdirAllInRoot(r, path.Dir(p)); err != nil {
		return nil, err
	}
	return r.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}

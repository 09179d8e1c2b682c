package hostfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MaxLinks bounds the symbolic links followed while resolving one path,
// as the kernel does (40).
const MaxLinks = 40

// maxPathLen bounds a host path (PATH_MAX).
const maxPathLen = 4096

// Root is a directory seen as the root of a host. It holds no descriptor
// between operations (a mount below it can be unmounted): each operation
// opens the root directory afresh and resolves from there.
type Root struct {
	dir string
}

// noOpenat2 is set once openat2 returned ENOSYS, or EPERM for the root
// itself (a seccomp filter that refuses syscalls it does not know, as
// older container runtimes have), or when EnvWalk is set; from then on the
// walk resolves every path.
var noOpenat2 atomic.Bool

// EnvWalk, set to 1, makes every path resolve through the O_NOFOLLOW walk
// instead of openat2 (to run a whole test suite on the fallback, or to
// work around a kernel whose openat2 misbehaves).
const EnvWalk = "FERRY_HOSTFS_WALK"

func init() {
	if os.Getenv(EnvWalk) == "1" {
		noOpenat2.Store(true)
	}
}

// Open returns the Root at dir (default "/"), which must be an existing
// directory. Links in dir itself are followed: the operator names the root.
func Open(dir string) (*Root, error) {
	if dir == "" {
		dir = "/"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", dir, err)
	}
	fd, err := unix.Open(abs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("root %s is not a directory: pass a directory to --root", dir)
		}
		return nil, fmt.Errorf("root %s: %w: pass an existing directory to --root", dir, &os.PathError{Op: "open", Path: abs, Err: err})
	}
	unix.Close(fd)
	return &Root{dir: abs}, nil
}

// Dir returns the root's absolute path on this machine.
func (r *Root) Dir() string { return r.dir }

// Close is a no-op kept so that a Root can be used like a resource.
func (r *Root) Close() error { return nil }

// Local returns the path on this machine that the host path p names,
// joined lexically: for messages and for paths Resolve returned, never to
// act on a path that may hold links.
func (r *Root) Local(p string) string {
	return filepath.Join(r.dir, filepath.FromSlash(path.Clean("/"+p)))
}

// openRoot opens the root directory; the caller closes it.
func (r *Root) openRoot() (int, error) {
	return unix.Open(r.dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// relPath turns the host path p into a clean path relative to the root
// ("." for the root itself).
func relPath(p string) (string, error) {
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q holds a NUL byte", p)
	}
	if len(p) > maxPathLen {
		return "", fmt.Errorf("path %.40q... is longer than %d bytes", p, maxPathLen)
	}
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		return ".", nil
	}
	return rel, nil
}

// split returns the parent (relative, "." for the root) and the last
// component of host path p; name is "" when p is the root.
func split(p string) (parent, name string, err error) {
	rel, err := relPath(p)
	if err != nil || rel == "." {
		return ".", "", err
	}
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	return dir, name, nil
}

// openIn opens the relative path rel below the root, resolving every link
// (the last one too) inside the root. flags gain O_CLOEXEC.
func (r *Root) openIn(rel string, flags int, mode uint32) (int, error) {
	flags |= unix.O_CLOEXEC
	if !noOpenat2.Load() {
		root, err := r.openRoot()
		if err != nil {
			return -1, err
		}
		defer unix.Close(root)
		how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		if flags&unix.O_CREAT != 0 {
			how.Mode = uint64(mode)
		}
		for range 16 { // EAGAIN: a concurrent rename raced the lookup
			fd, err := unix.Openat2(root, rel, &how)
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			if err == unix.EPERM && !openat2Works(root) {
				err = unix.ENOSYS
			}
			if err != unix.ENOSYS {
				return fd, err
			}
			noOpenat2.Store(true)
			break
		}
	}
	dir, name, _, err := r.walk(rel, true)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	if name == "" {
		name = "."
	}
	return unix.Openat(dir, name, flags|unix.O_NOFOLLOW, mode)
}

// openat2Works reports whether openat2 opens the root itself: EPERM there
// means a filter refuses the syscall, not the file.
func openat2Works(root int) bool {
	fd, err := unix.Openat2(root, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// parent opens the directory holding host path p's last component,
// resolved inside the root, and returns that component ("" for the root).
// The caller closes dir.
func (r *Root) parent(p string) (dir int, name string, err error) {
	parentRel, name, err := split(p)
	if err != nil {
		return -1, "", err
	}
	dir, err = r.openIn(parentRel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", pathErr("open", path.Dir(path.Clean("/"+p)), err)
	}
	return dir, name, nil
}

// walk resolves rel the way RESOLVE_IN_ROOT does with O_NOFOLLOW opens of
// one component at a time. It returns a descriptor of the directory that
// holds the last component, that component ("" when rel leads to a
// directory the walk already opened) and the host path of that directory.
// With follow, a last component that is a link is resolved too. A missing
// last component is returned as is, so that it can be created.
func (r *Root) walk(rel string, follow bool) (dir int, name, dirPath string, err error) {
	return r.walkMissing(rel, follow, false)
}

// walkMissing is walk; with rest, a missing component that is not the
// last ends the walk there, returning it and what follows as name.
func (r *Root) walkMissing(rel string, follow, rest bool) (dir int, name, dirPath string, err error) {
	root, err := r.openRoot()
	if err != nil {
		return -1, "", "", err
	}
	stack := []int{root}
	names := []string{}
	closeAll := func(keep int) {
		for _, fd := range stack {
			if fd != keep {
				unix.Close(fd)
			}
		}
	}
	todo := strings.Split(rel, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack, names = stack[:len(stack)-1], names[:len(names)-1]
			}
			continue
		}
		top := stack[len(stack)-1]
		last := len(todo) == 0
		var st unix.Stat_t
		err := unix.Fstatat(top, c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT && (last || rest) {
			closeAll(top)
			return top, path.Join(append([]string{c}, todo...)...), "/" + strings.Join(names, "/"), nil
		}
		if err != nil {
			closeAll(-1)
			return -1, "", "", err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && (!last || follow) {
			if links++; links > MaxLinks {
				closeAll(-1)
				return -1, "", "", unix.ELOOP
			}
			target, err := readlinkat(top, c)
			if err != nil {
				closeAll(-1)
				return -1, "", "", err
			}
			if strings.HasPrefix(target, "/") {
				closeAll(root)
				stack, names = stack[:1], names[:0]
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if last {
			closeAll(top)
			return top, c, "/" + strings.Join(names, "/"), nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			closeAll(-1)
			return -1, "", "", unix.ENOTDIR
		}
		fd, err := unix.Openat(top, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(-1)
			return -1, "", "", err
		}
		stack, names = append(stack, fd), append(names, c)
	}
	top := stack[len(stack)-1]
	closeAll(top)
	return top, "", "/" + strings.Join(names, "/"), nil
}

// Resolve returns the host path that p leads to once every link in it,
// the last one too, is resolved inside the root. From the first missing
// component on, the path is kept as it is.
func (r *Root) Resolve(p string) (string, error) {
	rel, err := relPath(p)
	if err != nil {
		return "", err
	}
	dir, name, dirPath, err := r.walkMissing(rel, true, true)
	if err != nil {
		return "", pathErr("resolve", p, err)
	}
	unix.Close(dir)
	return path.Join(dirPath, name), nil
}

func readlinkat(dir int, name string) (string, error) {
	for n := 256; n <= maxPathLen*2; n *= 2 {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}

// pathErr wraps a syscall error as *fs.PathError naming the host path, so
// that errors.Is(err, fs.ErrNotExist) holds.
func pathErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: path.Clean("/" + p), Err: err}
}

package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-k3s/ferry/internal/treedigest"

	"golang.org/x/sys/unix"
)

// modes runs f with openat2 and with the O_NOFOLLOW walk.
func modes(t *testing.T, f func(t *testing.T)) {
	for _, walk := range []bool{false, true} {
		t.Run(map[bool]string{false: "openat2", true: "walk"}[walk], func(t *testing.T) {
			old := noOpenat2.Load()
			noOpenat2.Store(walk)
			t.Cleanup(func() { noOpenat2.Store(old) })
			f(t)
		})
	}
}

// world is a root beside an outside directory, with links at several
// levels that point outside, absolutely and relatively.
func world(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{"etc", "var/lib/ferry", "usr/local", "outside/k3s", filepath.Join(outside, "k3s"), filepath.Join(outside, "sub")} {
		p := d
		if !filepath.IsAbs(d) {
			p = filepath.Join(root, d)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"k3s/config.yaml", "secret", "sub/file"} {
		if err := os.WriteFile(filepath.Join(outside, f), []byte("outside "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"etc/rancher":            outside,                // absolute: restarts at the root
		"var/lib/ferry/previous": "../../../../outside",  // relative: lexically escapes
		"usr/local/bin":          "../../../outside/sub", // relative, deeper
		"etc/secret":             filepath.Join(outside, "secret"),
		"etc/up":                 "/../../../..",
		"etc/loop":               "loop",
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func TestLinksNeverLeaveTheRoot(t *testing.T) {
	modes(t, func(t *testing.T) {
		root, outside := world(t)
		before := treedigest.Of(t, outside)
		r, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		fill := func(f *os.File) error { _, err := f.WriteString("ferry"); return err }
		// Each operation may fail (a link leading nowhere inside the root)
		// or act inside the root; none may touch outside.
		ops := map[string]func() error{
			"write through abs link": func() error { return r.WriteFile("/etc/rancher/k3s/config.yaml", 0o600, fill) },
			"write through rel link": func() error { return r.WriteFile("/var/lib/ferry/previous/secret", 0o600, fill) },
			"write over link":        func() error { return r.WriteFile("/etc/secret", 0o600, fill) },
			"mkdir through link":     func() error { return r.Mkdir("/usr/local/bin/new", 0o755) },
			"remove through link":    func() error { return r.Remove("/usr/local/bin/file") },
			"removeall through link": func() error { return r.RemoveAll("/var/lib/ferry/previous/sub") },
			"removeall of link":      func() error { return r.RemoveAll("/var/lib/ferry/previous") },
			"rename through link":    func() error { return r.Rename("/etc/rancher/k3s/config.yaml", "/etc/moved") },
			"rename into link":       func() error { return r.Rename("/etc", "/usr/local/bin/etc") },
			"symlink through link":   func() error { return r.Symlink("k3s", "/etc/up/kubectl") },
			"removeall via dot-dot":  func() error { return r.RemoveAll("/etc/up/outside") },
			"open file through link": func() error {
				f, err := r.OpenFile("/etc/rancher/lock", os.O_CREATE|os.O_RDWR, 0o600)
				if err == nil {
					f.Close()
				}
				return err
			},
		}
		for name, op := range ops {
			err := op()
			t.Logf("%s: %v", name, err)
			if d := treedigest.Of(t, outside); d != before {
				t.Fatalf("%s changed the outside directory:\n%s\nwas\n%s", name, d, before)
			}
		}
		if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
			t.Fatal(err)
		}
		// Reads never see outside either.
		for _, p := range []string{"/etc/secret", "/etc/rancher/k3s/config.yaml", "/usr/local/bin/file"} {
			if f, err := r.Open(p); err == nil {
				b, _ := io.ReadAll(f)
				f.Close()
				if strings.HasPrefix(string(b), "outside") {
					t.Errorf("open %s read the outside file: %q", p, b)
				}
			}
		}
		if _, err := r.Stat("/etc/loop"); !errors.Is(err, unix.ELOOP) {
			t.Errorf("stat of a looping link: %v, want ELOOP", err)
		}
	})
}

func TestResolveMatchesKernel(t *testing.T) {
	root, outside := world(t)
	os.MkdirAll(filepath.Join(root, outside, "k3s"), 0o755)
	os.WriteFile(filepath.Join(root, outside, "secret"), []byte("inside"), 0o644)
	os.MkdirAll(filepath.Join(root, "outside/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "outside/sub/file"), []byte("inside"), 0o644)
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []string{"/etc/rancher", "/etc/rancher/k3s", "/etc/secret", "/usr/local/bin/file", "/var/lib/ferry/previous/sub", "/etc/up", "/etc/up/etc/rancher/k3s"} {
		walked, err := r.Resolve(p)
		if err != nil {
			t.Fatalf("resolve %s: %v", p, err)
		}
		rootFd, _ := r.openRoot()
		fd, err := unix.Openat2(rootFd, strings.TrimPrefix(p, "/"), &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
		if err == unix.ENOSYS {
			t.Skip("no openat2")
		}
		if err != nil {
			t.Fatalf("openat2 %s: %v", p, err)
		}
		unix.Close(rootFd)
		kernel, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		unix.Close(fd)
		if want := r.Local(walked); kernel != want {
			t.Errorf("%s: the walk resolves to %s, the kernel to %s", p, want, kernel)
		}
	}
}

func TestRemoveAllKeepsLinkTargets(t *testing.T) {
	modes(t, func(t *testing.T) {
		root, outside := world(t)
		before := treedigest.Of(t, outside)
		dir := filepath.Join(root, "var/lib/ferry/staging-x/a/b")
		os.MkdirAll(dir, 0o700)
		os.Symlink(outside, filepath.Join(dir, "out"))
		os.Symlink("../../../../../../outside", filepath.Join(root, "var/lib/ferry/staging-x/rel"))
		os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600)
		r, _ := Open(root)
		defer r.Close()
		if err := r.RemoveAll("/var/lib/ferry/staging-x"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(root, "var/lib/ferry/staging-x")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("staging-x is still there: %v", err)
		}
		if d := treedigest.Of(t, outside); d != before {
			t.Errorf("outside changed:\n%s", d)
		}
		if err := r.RemoveAll("/"); err == nil {
			t.Error("RemoveAll of the root did not fail")
		}
	})
}

func TestOpenRefusesFIFO(t *testing.T) {
	modes(t, func(t *testing.T) {
		root := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(root, "state.json"), 0o644); err != nil {
			t.Fatal(err)
		}
		r, _ := Open(root)
		defer r.Close()
		if _, err := r.Open("/state.json"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("open of a FIFO: %v", err)
		}
	})
}

func TestReadDirAndStat(t *testing.T) {
	modes(t, func(t *testing.T) {
		root, _ := world(t)
		r, _ := Open(root)
		defer r.Close()
		ents, err := r.ReadDir("/etc")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			fi, _ := e.Info()
			names = append(names, fmt.Sprintf("%s:%v", e.Name(), fi.Mode().Type()))
		}
		if got := strings.Join(names, " "); got != "loop:L--------- rancher:L--------- secret:L--------- up:L---------" {
			t.Errorf("ReadDir(/etc) = %s", got)
		}
		if fi, err := r.Lstat("/etc/rancher"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("Lstat /etc/rancher: %v %v", fi, err)
		}
		if _, err := r.Stat("/etc/rancher"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat /etc/rancher (leads to a missing dir inside the root): %v", err)
		}
		if fi, err := r.Stat("/etc/up"); err != nil || !fi.IsDir() {
			t.Errorf("Stat /etc/up (leads to the root): %v %v", fi, err)
		}
	})
}

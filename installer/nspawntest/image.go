package nspawntest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvCache names the environment variable that moves the image cache
// (default DefaultCache).
const EnvCache = "FERRY_NSPAWN_CACHE"

// DefaultCache is where the bookworm root is built once and kept.
const DefaultCache = "/var/cache/ferry-nspawn"

// Suite is the Debian release the containers run.
const Suite = "bookworm"

// defaultMirror is used when apt's sources name no Debian mirror.
const defaultMirror = "http://deb.debian.org/debian"

// buildTimeout bounds one debootstrap run.
const buildTimeout = 30 * time.Minute

// CacheDir returns $FERRY_NSPAWN_CACHE or DefaultCache.
func CacheDir() string {
	if d := os.Getenv(EnvCache); d != "" {
		return d
	}
	return DefaultCache
}

// Image returns the path of the cached bookworm root under cache, building
// it first when it is missing: `debootstrap --variant=minbase
// --include=systemd,systemd-sysv,dbus bookworm` from the Debian mirror apt
// uses. It builds into a temporary directory and renames it into place, so
// a half-made image is never used; an exclusive lock on cache/.lock keeps
// concurrent test processes from building it twice.
func Image(ctx context.Context, cache string) (string, error) {
	img := filepath.Join(cache, Suite)
	if isImage(img) {
		return img, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("create image cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("lock image cache: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock image cache: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if isImage(img) { // built by another process while we waited
		return img, nil
	}
	tmp, err := os.MkdirTemp(cache, Suite+".tmp-")
	if err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	defer os.RemoveAll(tmp)
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	mirror := Mirror()
	cmd := exec.CommandContext(bctx, "debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus", Suite, tmp, mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap %s from %s: %w\n%s", Suite, mirror, err, tail(string(out), 20))
	}
	if !isImage(tmp) {
		return "", fmt.Errorf("debootstrap %s: no systemd in the result", Suite)
	}
	_ = os.RemoveAll(img) // a stale, incomplete tree from an old layout
	if err := os.Rename(tmp, img); err != nil {
		return "", fmt.Errorf("build image: %w", err)
	}
	return img, nil
}

// isImage reports whether dir is a finished root with systemd in it.
func isImage(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "lib/systemd/systemd"))
	return err == nil
}

// Mirror returns the Debian package mirror apt on this host uses (from
// /etc/apt/sources.list and /etc/apt/sources.list.d), or
// http://deb.debian.org/debian.
func Mirror() string {
	files := []string{"/etc/apt/sources.list"}
	for _, pat := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	for _, f := range files {
		if m := mirrorIn(f); m != "" {
			return m
		}
	}
	return defaultMirror
}

// mirrorIn finds the first Debian (not security) archive URI in one apt
// sources file, in either the one-line or the deb822 format.
func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		var uris []string
		switch {
		case len(fields) >= 3 && fields[0] == "deb":
			for _, w := range fields[1:] {
				if !strings.HasPrefix(w, "[") && !strings.HasSuffix(w, "]") {
					uris = append(uris, w)
					break
				}
			}
		case len(fields) >= 2 && fields[0] == "URIs:":
			uris = fields[1:]
		}
		for _, u := range uris {
			if strings.Contains(u, "debian") && !strings.Contains(u, "security") && (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
				return strings.TrimSuffix(u, "/")
			}
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errSkip marks a failure that means "this machine cannot run containers"
// rather than "the code under test is wrong".
var errSkip = errors.New("cannot run systemd-nspawn containers here")

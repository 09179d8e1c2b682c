package preflight

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxFileSize caps what a check reads from one file (4 MiB): proc files
// of a busy host (net/tcp) can be large, but never this large in practice.
const maxFileSize = 4 << 20

// readFile reads the file at p (already resolved), at most maxFileSize.
func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize))
}

// maxLinks bounds how many symlinks readFile follows for one path.
const maxLinks = 8

// readFile reads the host file p (absolute, as on the host) under the root.
// An absolute symlink is followed inside the root, as the host would see it
// once booted (/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf),
// never out to the machine running the check.
func (h *host) readFile(p string) ([]byte, error) {
	resolved, err := h.resolve(p)
	if err != nil {
		return nil, err
	}
	return readFile(resolved)
}

// resolve returns where the host path p leads under the root, following
// symlinks of its last element.
func (h *host) resolve(p string) (string, error) {
	for range maxLinks {
		target, err := os.Readlink(h.path(p))
		if err != nil {
			return h.path(p), nil // not a link (or missing: reading says so)
		}
		if filepath.IsAbs(target) {
			p = target
		} else {
			p = filepath.Join(filepath.Dir(p), target)
		}
	}
	return "", fmt.Errorf("read %s: more than %d symlinks", p, maxLinks)
}

// lines returns the non-empty, trimmed lines of b.
func lines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// exists reports whether anything (even a dangling symlink, as systemd's
// enablement links are in an alternate root) is at p.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// serviceEnabled reports whether any of units is enabled on the host under
// systemd (a link in /etc/systemd/system/*.wants/) or OpenRC (a link in
// /etc/runlevels/*/ without the unit suffix).
func (h *host) serviceEnabled(units ...string) bool {
	for _, u := range units {
		if m, _ := filepath.Glob(filepath.Join(h.path("/etc/systemd/system"), "*.wants", u)); len(m) > 0 {
			return true
		}
		name := strings.TrimSuffix(strings.TrimSuffix(u, ".service"), ".socket")
		if m, _ := filepath.Glob(filepath.Join(h.path("/etc/runlevels"), "*", name)); len(m) > 0 {
			return true
		}
	}
	return false
}

// findProgram returns the first host path (as on the host) of name in
// dirs, or "".
func (h *host) findProgram(name string, dirs ...string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if exists(h.path(p)) {
			return p
		}
	}
	return ""
}

// keyValues parses KEY=VALUE lines (os-release, ufw.conf), unquoting values.
func keyValues(b []byte) map[string]string {
	kv := map[string]string{}
	for _, l := range lines(b) {
		if strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		kv[strings.TrimSpace(k)] = v
	}
	return kv
}

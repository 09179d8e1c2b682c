package preflight

import (
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxFileSize caps what a check reads from one file (4 MiB): proc files
// of a busy host (net/tcp) can be large, but never this large in practice.
const maxFileSize = 4 << 20

// readFile reads the file at p, a path of the machine running the check
// (an explicit ProcDir or SysDir), at most maxFileSize.
func readFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize))
}

// readFile reads the host file p (absolute, as on the host), at most
// maxFileSize. Links are resolved inside the root by installer/hostfs, as
// the host would see them once booted (/etc/resolv.conf ->
// /run/systemd/resolve/stub-resolv.conf), never out to the machine running
// the check.
func (h *host) readFile(p string) ([]byte, error) {
	f, err := h.fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize))
}

// resolve returns the host path p leads to inside the root.
func (h *host) resolve(p string) (string, error) { return h.fs.Resolve(p) }

// readProc reads p (relative to /proc): the root's /proc, or ProcDir.
func (h *host) readProc(p string) ([]byte, error) {
	if h.opts.ProcDir != "" {
		return readFile(filepath.Join(h.opts.ProcDir, p))
	}
	return h.readFile(path.Join("/proc", p))
}

// readSys reads p (relative to /sys): the root's /sys, or SysDir.
func (h *host) readSys(p string) ([]byte, error) {
	if h.opts.SysDir != "" {
		return readFile(filepath.Join(h.opts.SysDir, p))
	}
	return h.readFile(path.Join("/sys", p))
}

// sysExists reports whether p (relative to /sys) exists.
func (h *host) sysExists(p string) bool {
	if h.opts.SysDir != "" {
		_, err := os.Lstat(filepath.Join(h.opts.SysDir, p))
		return err == nil
	}
	return h.exists(path.Join("/sys", p))
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
// enablement links are in an alternate root) is at host path p.
func (h *host) exists(p string) bool {
	_, err := h.fs.Lstat(p)
	return err == nil
}

// serviceEnabled reports whether any of units is enabled on the host under
// systemd (a link in /etc/systemd/system/*.wants/) or OpenRC (a link in
// /etc/runlevels/*/ without the unit suffix).
func (h *host) serviceEnabled(units ...string) bool {
	for _, u := range units {
		name := strings.TrimSuffix(strings.TrimSuffix(u, ".service"), ".socket")
		if h.inSubdir("/etc/systemd/system", ".wants", u) || h.inSubdir("/etc/runlevels", "", name) {
			return true
		}
	}
	return false
}

// inSubdir reports whether some directory dir/*suffix holds name (at most
// 256 directories are looked at).
func (h *host) inSubdir(dir, suffix, name string) bool {
	ents, err := h.fs.ReadDir(dir)
	if err != nil {
		return false
	}
	for i, e := range ents {
		if i >= 256 {
			break
		}
		if strings.HasSuffix(e.Name(), suffix) && h.exists(path.Join(dir, e.Name(), name)) {
			return true
		}
	}
	return false
}

// findProgram returns the first host path (as on the host) of name in
// dirs, or "".
func (h *host) findProgram(name string, dirs ...string) string {
	for _, d := range dirs {
		p := path.Join(d, name)
		if h.exists(p) {
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

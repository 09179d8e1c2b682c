package hostrules

import (
	"fmt"
	"path"
	"strings"

	"github.com/ferry-k3s/ferry/manifests"
)

// Host paths of the k3s layout that Ferry writes (SPEC §6).
const (
	// FerryDir holds Ferry's own state: state.json, staging, backups and
	// the previous install.
	FerryDir = "/var/lib/ferry"
	// ImagesDir receives the bundle's image archives.
	ImagesDir = "/var/lib/rancher/k3s/agent/images"
	// ChartsDir receives the bundle's chart archives.
	ChartsDir = "/var/lib/rancher/k3s/server/static/charts"
	// ManifestsDir receives the HelmChart manifests Ferry writes, named
	// ferry-*.yaml.
	ManifestsDir = "/var/lib/rancher/k3s/server/manifests"
)

// generated lists the files Ferry writes or links on a host, for either
// role and either init system.
func generated() []string {
	var out []string
	for _, role := range []manifests.Role{manifests.RoleServer, manifests.RoleAgent} {
		n := manifests.Node{Role: role}
		out = append(out, n.UnitPath(), n.EnvPath(), n.OpenRCPath(), n.UninstallPath())
	}
	out = append(out, manifests.ConfigPath, manifests.RegistriesPath, manifests.KillallPath, path.Join(ImagesDir, ".cache.json"))
	for _, name := range []string{"k3s", "kubectl", "crictl", "ctr"} {
		out = append(out, path.Join(manifests.BinDir, name))
	}
	return out
}

// needed lists the directories Ferry creates or writes into; a file at
// one of them, or at one of their parents, would break every install.
func needed() []string {
	return []string{FerryDir, ImagesDir, ChartsDir, ManifestsDir, manifests.BinDir, manifests.SystemdDir, manifests.OpenRCDir, path.Dir(manifests.ConfigPath)}
}

// kernelFS are file systems a file cannot be placed in.
var kernelFS = []string{"/proc", "/sys", "/dev"}

// CheckFilePath reports why a host would refuse, or misplace, a bundle file
// at the host path p, with what to do instead; nil when p is a fine place.
// p must already be a clean absolute path.
func CheckFilePath(p string) error {
	if strings.ContainsAny(p, "\x00\n\r") {
		return fmt.Errorf("%q holds a NUL byte or a line break", p)
	}
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("%q is not a clean absolute path: write it as %q", p, path.Clean("/"+p))
	}
	if p == "/" {
		return fmt.Errorf("%q is the root directory: name a file", p)
	}
	if within(p, FerryDir) {
		return fmt.Errorf("%q is inside %s, where Ferry keeps its own state (state.json, staging, backups): hosts refuse it and uninstall would fail; place the file elsewhere", p, FerryDir)
	}
	for _, d := range kernelFS {
		if within(p, d) {
			return fmt.Errorf("%q is inside %s, a kernel file system where no file can be placed: place the file elsewhere", p, d)
		}
	}
	for _, g := range generated() {
		if p == g {
			return fmt.Errorf("%q is a file Ferry generates on every host: change it through the spec or template overrides (templates:), or place the file elsewhere", p)
		}
	}
	switch dir, base := path.Split(p); {
	case strings.TrimSuffix(dir, "/") == ImagesDir && (strings.HasPrefix(base, "ferry-images-") || strings.HasPrefix(base, "k3s-airgap-images-")):
		return fmt.Errorf("%q is where Ferry places the bundle's image archives: name your archive differently", p)
	case within(p, ChartsDir):
		return fmt.Errorf("%q is inside %s, where Ferry places the bundle's charts: add charts with charts: instead", p, ChartsDir)
	case strings.TrimSuffix(dir, "/") == ManifestsDir && strings.HasPrefix(base, "ferry-"):
		return fmt.Errorf("%q is where Ferry writes its HelmChart manifests (ferry-*.yaml): name your manifest without the ferry- prefix", p)
	}
	for _, d := range needed() {
		if p == d || within(d, p) {
			return fmt.Errorf("%q is a directory Ferry needs on every host (%s): name a file inside it instead", p, d)
		}
	}
	for _, d := range FileDirs {
		if within(p, d) && p != d {
			return nil
		}
	}
	return fmt.Errorf("%q is outside the places ferry-install writes (%s): place the file below one of them", p, strings.Join(FileDirs, ", "))
}

// FileDirs are the directories below which a bundle's files: entries may
// be placed. Uninstall and rollback act only on paths there, in the k3s
// layout and Ferry's own files, so that a tampered state.json cannot make
// them touch the rest of the host.
var FileDirs = []string{"/etc", "/opt", "/srv", "/usr/local", "/var/lib"}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

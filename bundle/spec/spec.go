package spec

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// APIVersion and Kind are the only values the apiVersion and kind fields
// accept.
const (
	APIVersion = "ferry.k3s.io/v1"
	Kind       = "Bundle"
)

// Defaults applied by Parse and Load to fields the spec leaves out.
const (
	// DefaultArch is the architecture carried when k3s.arch is absent.
	DefaultArch = "amd64"
	// DefaultK3sSource is where k3s release assets come from when
	// k3s.source is absent.
	DefaultK3sSource = "https://github.com/k3s-io/k3s/releases/download"
	// DefaultNamespace is the namespace of a chart without one.
	DefaultNamespace = "default"
	// DefaultFileMode is the permission of a file without a mode.
	DefaultFileMode = "0644"
)

// Spec is a parsed ferry.yaml with defaults applied. Field names follow
// bundle.schema.json.
type Spec struct {
	APIVersion string   `json:"apiVersion" yaml:"apiVersion"`
	Kind       string   `json:"kind" yaml:"kind"`
	Metadata   Metadata `json:"metadata" yaml:"metadata"`
	K3s        K3s      `json:"k3s" yaml:"k3s"`
	// KubeVersion is the Kubernetes version charts are rendered against;
	// by default k3s.version without its pre-release and +k3sN suffix
	// (v1.31.4 for v1.31.4+k3s1).
	KubeVersion string  `json:"kubeVersion,omitempty" yaml:"kubeVersion,omitempty"`
	Charts      []Chart `json:"charts,omitempty" yaml:"charts,omitempty"`
	Traefik     Traefik `json:"traefik,omitzero" yaml:"traefik,omitempty"`
	Images      Images  `json:"images,omitzero" yaml:"images,omitempty"`
	Files       []File  `json:"files,omitempty" yaml:"files,omitempty"`
	// Templates is a directory of template overrides; empty for none.
	// Load makes it absolute.
	Templates string `json:"templates,omitempty" yaml:"templates,omitempty"`

	// Dir is the absolute directory of the spec file, set by Load. Load has
	// already resolved every relative local path (chart repo directories,
	// keyrings, file sources, templates) against it; after Parse it is
	// empty and local paths are as written.
	Dir string `json:"-" yaml:"-"`
}

// Metadata names and versions the bundle.
type Metadata struct {
	// Name is a DNS label.
	Name string `json:"name" yaml:"name"`
	// Version is a semantic version, optionally with a leading v.
	Version string `json:"version" yaml:"version"`
	// Expires is when installers start refusing the bundle; nil for never.
	Expires *time.Time `json:"expires,omitempty" yaml:"expires,omitempty"`
}

// K3s selects the k3s release.
type K3s struct {
	// Version is the exact release tag, e.g. v1.31.4+k3s1.
	Version string `json:"version" yaml:"version"`
	// Arch lists the architectures to carry; default [DefaultArch].
	Arch []string `json:"arch,omitempty" yaml:"arch,omitempty"`
	// Source is the release download base URL without a trailing slash;
	// default DefaultK3sSource.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// Chart is one Helm chart at an exact version.
type Chart struct {
	Name string `json:"name" yaml:"name"`
	// Repo is an http(s):// or oci:// URL, or a local chart directory or
	// archive (absolute after Load).
	Repo    string `json:"repo" yaml:"repo"`
	Version string `json:"version" yaml:"version"`
	// Namespace defaults to DefaultNamespace.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// ReleaseName defaults to Name and is unique within a spec.
	ReleaseName string         `json:"releaseName,omitempty" yaml:"releaseName,omitempty"`
	Values      map[string]any `json:"values,omitempty" yaml:"values,omitempty"`
	// Required lists dotted value paths a site must supply at install time.
	Required []string `json:"required,omitempty" yaml:"required,omitempty"`
	// Keyring is a GPG keyring the chart's provenance must verify against;
	// empty to skip provenance checks. Absolute after Load.
	Keyring string `json:"keyring,omitempty" yaml:"keyring,omitempty"`
}

// IsLocal reports whether the chart comes from a local path rather than a
// repository URL.
func (c Chart) IsLocal() bool { return !hasScheme(c.Repo) }

// IsOCI reports whether the chart comes from an oci:// registry.
func (c Chart) IsOCI() bool { return strings.HasPrefix(c.Repo, "oci://") }

// Traefik customises k3s's packaged Traefik.
type Traefik struct {
	Values map[string]any `json:"values,omitempty" yaml:"values,omitempty"`
}

// Images adds and removes images beside those discovered in the charts.
type Images struct {
	Extra []string `json:"extra,omitempty" yaml:"extra,omitempty"`
	// Exclude holds references or path.Match patterns.
	Exclude []string `json:"exclude,omitempty" yaml:"exclude,omitempty"`
}

// Excludes reports whether ref equals an exclude entry or matches one as a
// path.Match pattern (where * does not cross a '/'). Callers pass the reference in the form they compare
// (as written, or normalised to the full docker.io/library/... form); both
// forms may be tried.
func (im Images) Excludes(ref string) bool {
	for _, p := range im.Exclude {
		if p == ref {
			return true
		}
		if ok, err := path.Match(p, ref); err == nil && ok {
			return true
		}
	}
	return false
}

// File is one extra file for hosts.
type File struct {
	// Source is an http(s):// or file:// URL or a local path (absolute
	// after Load).
	Source string `json:"source" yaml:"source"`
	// SHA256 is 64 lowercase hex digits.
	SHA256 string `json:"sha256" yaml:"sha256"`
	// HostPath is the clean absolute path the file is placed at.
	HostPath string `json:"hostPath" yaml:"hostPath"`
	// Mode is octal permission bits as a string; default DefaultFileMode.
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Name is the path under files/ in the bundle; default the last
	// element of Source.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
}

// IsLocal reports whether the file comes from a local path rather than a URL.
func (f File) IsLocal() bool { return !hasScheme(f.Source) }

// Perm returns Mode as permission bits (0644 when Mode is empty).
func (f File) Perm() (fs.FileMode, error) {
	m := f.Mode
	if m == "" {
		m = DefaultFileMode
	}
	n, err := strconv.ParseUint(m, 8, 32)
	if err != nil || n&^0o777 != 0 {
		return 0, fmt.Errorf("file %s: mode %q is not octal permission bits: write e.g. \"0644\"", f.Name, f.Mode)
	}
	return fs.FileMode(n), nil
}

var k3sVersionRE = regexp.MustCompile(`^(v[0-9]+\.[0-9]+\.[0-9]+)(-rc[0-9]+)?\+k3s[0-9]+$`)

// KubeVersionOf returns the Kubernetes version a k3s release tag carries:
// v1.31.4 for v1.31.4+k3s1, or "" when tag is not a k3s release tag.
func KubeVersionOf(tag string) string {
	m := k3sVersionRE.FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

// applyDefaults fills the fields the spec left out.
func (s *Spec) applyDefaults() {
	if len(s.K3s.Arch) == 0 {
		s.K3s.Arch = []string{DefaultArch}
	}
	if s.K3s.Source == "" {
		s.K3s.Source = DefaultK3sSource
	}
	s.K3s.Source = strings.TrimRight(s.K3s.Source, "/")
	if s.KubeVersion == "" {
		s.KubeVersion = KubeVersionOf(s.K3s.Version)
	} else if !strings.HasPrefix(s.KubeVersion, "v") {
		s.KubeVersion = "v" + s.KubeVersion
	}
	for i := range s.Charts {
		c := &s.Charts[i]
		if c.Namespace == "" {
			c.Namespace = DefaultNamespace
		}
		if c.ReleaseName == "" {
			c.ReleaseName = c.Name
		}
	}
	for i := range s.Files {
		f := &s.Files[i]
		if f.Mode == "" {
			f.Mode = DefaultFileMode
		}
		if f.Name == "" {
			f.Name = defaultFileName(f.Source)
		}
	}
}

// defaultFileName is the last element of a URL's path or a local path.
func defaultFileName(source string) string {
	s := source
	if i := strings.IndexAny(s, "?#"); i >= 0 && hasScheme(s) {
		s = s[:i]
	}
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// resolve makes every relative local path absolute against dir.
func (s *Spec) resolve(dir string) {
	s.Dir = dir
	abs := func(p string) string {
		if p == "" || hasScheme(p) || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range s.Charts {
		if s.Charts[i].IsLocal() {
			s.Charts[i].Repo = abs(s.Charts[i].Repo)
		}
		s.Charts[i].Keyring = abs(s.Charts[i].Keyring)
	}
	for i := range s.Files {
		s.Files[i].Source = abs(s.Files[i].Source)
	}
	s.Templates = abs(s.Templates)
}

func hasScheme(s string) bool { return strings.Contains(s, "://") }

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

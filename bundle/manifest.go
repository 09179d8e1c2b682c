package bundle

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/internal/digest"
)

// FormatVersion is the bundle format this package writes and reads.
const FormatVersion = 1

// Names of the two leading entries of every bundle.
const (
	ManifestName  = "bundle.json"
	SignatureName = "bundle.json.sig"
)

// MaxManifestSize caps bundle.json (16 MiB): a manifest is read into memory
// before it is verified, so its size must be bounded before any trust exists.
const MaxManifestSize = 16 << 20

// maxSignatureSize caps bundle.json.sig; a base64 ECDSA or RSA-4096
// signature is well under 1 KiB.
const maxSignatureSize = 64 << 10

// Role says what an entry is for, so that the installer can place it.
type Role string

// Roles of bundle entries.
const (
	RoleK3sBinary    Role = "k3s-binary"    // k3s/<arch>/k3s
	RoleAirgapImages Role = "airgap-images" // images/<arch>/k3s-airgap-images.tar.zst (upstream bytes)
	RoleImages       Role = "images"        // images/<arch>/ferry-images.tar
	RoleChart        Role = "chart"         // charts/<name>-<version>.tgz
	RoleTemplate     Role = "template"      // templates/...
	RoleFile         Role = "file"          // files/... placed at a host path
	RoleSBOM         Role = "sbom"          // sbom.spdx.json
	RoleConfig       Role = "config"        // other configuration carried for the installer
)

// Manifest is bundle.json: everything a host needs to trust and place the
// bundle's other entries.
type Manifest struct {
	Format     int        `json:"format"`
	Name       string     `json:"name"`
	Version    string     `json:"version"`
	Created    time.Time  `json:"created"`
	Expires    *time.Time `json:"expires,omitempty"`
	K3sVersion string     `json:"k3sVersion"`
	Arches     []string   `json:"arches"`
	// KeyID identifies the signer's public key (see signing.KeyID); empty
	// for an unsigned bundle.
	KeyID   string  `json:"keyID,omitempty"`
	Entries []Entry `json:"entries"`
	Images  []Image `json:"images,omitempty"`
	Charts  []Chart `json:"charts,omitempty"`
	// Traefik holds values for k3s's packaged Traefik (a HelmChartConfig).
	Traefik map[string]any `json:"traefik,omitempty"`
}

// Entry describes one file of the bundle after the manifest and signature.
type Entry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Role   Role   `json:"role"`
	Arch   string `json:"arch,omitempty"`
	// Mode is the permission bits the file is written with (0644 when zero).
	Mode uint32 `json:"mode,omitempty"`
	// HostPath is where a RoleFile entry is placed on the host.
	HostPath string `json:"hostPath,omitempty"`
}

// Image records one container image carried in an image archive.
type Image struct {
	Ref     string `json:"ref"`
	Digest  string `json:"digest"`
	Arch    string `json:"arch"`
	Archive string `json:"archive"`
}

// Chart records one Helm chart archive and how it is to be installed.
type Chart struct {
	Name      string         `json:"name"`
	Version   string         `json:"version"`
	Digest    string         `json:"digest"`
	Namespace string         `json:"namespace"`
	Path      string         `json:"path"`
	Required  []string       `json:"required,omitempty"`
	Values    map[string]any `json:"values,omitempty"`
}

// Entry returns the manifest entry for name, or false.
func (m *Manifest) Entry(name string) (Entry, bool) {
	i, ok := slices.BinarySearchFunc(m.Entries, name, func(e Entry, n string) int { return strings.Compare(e.Path, n) })
	if !ok {
		return Entry{}, false
	}
	return m.Entries[i], true
}

// PayloadSize is the sum of all entry sizes: the unpacked size of the bundle
// less its manifest and signature.
func (m *Manifest) PayloadSize() int64 {
	var n int64
	for _, e := range m.Entries {
		n += e.Size
	}
	return n
}

// Expired reports whether the manifest has an expiry that lies before now.
func (m *Manifest) Expired(now time.Time) bool {
	return m.Expires != nil && now.After(*m.Expires)
}

// Marshal returns the canonical bytes of the manifest: indented JSON with a
// trailing newline. Entries must already be in order (see Validate).
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// ParseManifest decodes and validates bundle.json. Unknown fields are errors.
func ParseManifest(b []byte) (*Manifest, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, &FormatError{Entry: ManifestName, Err: fmt.Errorf("decode: %w", err)}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's own consistency: format version, entry
// names, sorted unique entries, sizes and digests of the right form.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return &FormatError{Entry: ManifestName, Err: fmt.Errorf(format, args...)}
	}
	if m.Format != FormatVersion {
		return bad("format %d is not supported (this Ferry reads format %d); use a matching ferry-install", m.Format, FormatVersion)
	}
	if m.Name == "" || m.Version == "" {
		return bad("name and version are required")
	}
	seen := make(map[string]string, len(m.Entries))
	for i, e := range m.Entries {
		if err := CheckName(e.Path); err != nil {
			return bad("entry %d: %w", i, err)
		}
		if e.Path == ManifestName || e.Path == SignatureName {
			return bad("entry %d: %q is reserved", i, e.Path)
		}
		if i > 0 && m.Entries[i-1].Path >= e.Path {
			return bad("entry %q: entries must be sorted by path and unique", e.Path)
		}
		fold := strings.ToLower(e.Path)
		if prev, ok := seen[fold]; ok {
			return bad("entry %q collides with %q on a case-insensitive filesystem", e.Path, prev)
		}
		seen[fold] = e.Path
		if e.Size < 0 {
			return bad("entry %q: negative size", e.Path)
		}
		if !digest.IsSHA256Hex(e.SHA256) {
			return bad("entry %q: sha256 %q is not 64 lowercase hex digits", e.Path, e.SHA256)
		}
		if e.Mode&^0o777 != 0 {
			return bad("entry %q: mode %#o has bits beyond rwx (setuid, setgid, sticky are refused)", e.Path, e.Mode)
		}
		if e.Role == RoleFile {
			if !path.IsAbs(e.HostPath) || path.Clean(e.HostPath) != e.HostPath {
				return bad("entry %q: hostPath %q must be a clean absolute path", e.Path, e.HostPath)
			}
		}
	}
	for _, c := range m.Charts {
		if _, ok := m.Entry(c.Path); !ok {
			return bad("chart %s: archive %q is not an entry", c.Name, c.Path)
		}
	}
	return nil
}

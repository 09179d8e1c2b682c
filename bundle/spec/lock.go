package spec

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"github.com/ferry-k3s/ferry/internal/atomicfile"
)

// LockVersion is the lock file format this package reads and writes.
const LockVersion = 1

// LockName is the lock file's name beside the spec file.
const LockName = "ferry.lock.json"

// maxLockSize caps how much of a lock file ReadLock reads (16 MiB).
const maxLockSize = 16 << 20

// Lock is ferry.lock.json: everything a build resolved, pinned by digest, so
// that a later `ferry build --locked` can prove it fetched the same bytes.
type Lock struct {
	// Version is LockVersion.
	Version int `json:"version"`
	// K3s holds the k3s binary, airgap image tarball and checksum file for
	// each architecture.
	K3s []LockedAsset `json:"k3s"`
	// Charts holds one entry per chart archive.
	Charts []LockedChart `json:"charts"`
	// Images holds one entry per image reference and architecture.
	Images []LockedImage `json:"images"`
	// Files holds the spec's extra host files.
	Files []LockedAsset `json:"files"`
}

// LockedAsset is one downloaded file.
type LockedAsset struct {
	// Arch is the architecture the asset is for; empty when it serves all.
	Arch string `json:"arch,omitempty"`
	// Name is the asset's file name (for files: the name under files/).
	Name string `json:"name"`
	// URL is where the asset was fetched from.
	URL string `json:"url"`
	// SHA256 is 64 lowercase hex digits.
	SHA256 string `json:"sha256"`
	// Size is in bytes.
	Size int64 `json:"size"`
}

// LockedChart is one chart archive (.tgz).
type LockedChart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Repo    string `json:"repo"`
	// SHA256 is the archive's sha256, 64 lowercase hex digits.
	SHA256 string `json:"sha256"`
}

// LockedImage is one image for one architecture.
type LockedImage struct {
	// Ref is the reference as the spec or chart wrote it.
	Ref  string `json:"ref"`
	Arch string `json:"arch"`
	// Digest is the platform manifest's digest, "sha256:" and 64 hex digits.
	Digest string `json:"digest"`
}

var (
	hexRE    = regexp.MustCompile(`^[a-f0-9]{64}$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// ReadLock reads and validates a lock file. A missing file yields an error
// that matches fs.ErrNotExist.
func ReadLock(path string) (*Lock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read lock: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLockSize+1))
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w", path, err)
	}
	if len(data) > maxLockSize {
		return nil, fmt.Errorf("read lock %s: larger than %d bytes: regenerate it with ferry lock", path, maxLockSize)
	}
	l, err := ParseLock(data)
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w", path, err)
	}
	return l, nil
}

// ParseLock decodes and validates lock file bytes. Unknown fields are errors.
func ParseLock(data []byte) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var l Lock
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("decode: %w: regenerate it with ferry lock", err)
	}
	if dec.More() {
		return nil, errors.New("data after the lock object: regenerate it with ferry lock")
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Validate checks the lock's version, digests, sizes and that no entry is
// listed twice.
func (l *Lock) Validate() error {
	if l.Version != LockVersion {
		return fmt.Errorf("lock version %d is not supported (this ferry reads version %d): regenerate it with ferry lock", l.Version, LockVersion)
	}
	check := func(kind string, assets []LockedAsset) error {
		seen := map[string]bool{}
		for _, a := range assets {
			key := a.Arch + "/" + a.Name
			switch {
			case a.Name == "":
				return fmt.Errorf("%s asset without a name: regenerate the lock with ferry lock", kind)
			case !hexRE.MatchString(a.SHA256):
				return fmt.Errorf("%s asset %s: sha256 %q is not 64 lowercase hex digits", kind, a.Name, a.SHA256)
			case a.Size < 0:
				return fmt.Errorf("%s asset %s: negative size %d", kind, a.Name, a.Size)
			case seen[key]:
				return fmt.Errorf("%s asset %s (%s) is listed twice: keep one", kind, a.Name, a.Arch)
			}
			seen[key] = true
		}
		return nil
	}
	if err := check("k3s", l.K3s); err != nil {
		return err
	}
	if err := check("file", l.Files); err != nil {
		return err
	}
	charts := map[string]bool{}
	for _, c := range l.Charts {
		key := c.Name + "@" + c.Version
		switch {
		case c.Name == "" || c.Version == "":
			return errors.New("chart without a name or version: regenerate the lock with ferry lock")
		case !hexRE.MatchString(c.SHA256):
			return fmt.Errorf("chart %s %s: sha256 %q is not 64 lowercase hex digits", c.Name, c.Version, c.SHA256)
		case charts[key]:
			return fmt.Errorf("chart %s %s is listed twice: keep one", c.Name, c.Version)
		}
		charts[key] = true
	}
	images := map[string]bool{}
	for _, im := range l.Images {
		key := im.Ref + " " + im.Arch
		switch {
		case im.Ref == "" || im.Arch == "":
			return errors.New("image without a ref or arch: regenerate the lock with ferry lock")
		case !digestRE.MatchString(im.Digest):
			return fmt.Errorf("image %s (%s): digest %q is not sha256: and 64 lowercase hex digits", im.Ref, im.Arch, im.Digest)
		case images[key]:
			return fmt.Errorf("image %s (%s) is listed twice: keep one", im.Ref, im.Arch)
		}
		images[key] = true
	}
	return nil
}

// Marshal returns the canonical bytes of the lock: sorted entries, empty
// lists as [], two-space indented JSON and a trailing newline. A zero
// Version is written as LockVersion. The receiver is not modified.
func (l *Lock) Marshal() ([]byte, error) {
	c := l.sorted()
	if c.Version == 0 {
		c.Version = LockVersion
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode lock: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes the lock to path atomically: to a temporary file in the same
// directory, synced, then renamed over path (mode 0644).
func (l *Lock) Write(path string) error {
	b, err := l.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	return nil
}

// sorted returns a copy with every list sorted and nil lists made empty.
func (l *Lock) sorted() Lock {
	c := Lock{
		Version: l.Version,
		K3s:     append([]LockedAsset{}, l.K3s...),
		Charts:  append([]LockedChart{}, l.Charts...),
		Images:  append([]LockedImage{}, l.Images...),
		Files:   append([]LockedAsset{}, l.Files...),
	}
	slices.SortFunc(c.K3s, compareAssets)
	slices.SortFunc(c.Files, compareAssets)
	slices.SortFunc(c.Charts, func(a, b LockedChart) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Repo, b.Repo))
	})
	slices.SortFunc(c.Images, func(a, b LockedImage) int {
		return cmp.Or(cmp.Compare(a.Ref, b.Ref), cmp.Compare(a.Arch, b.Arch))
	})
	return c
}

func compareAssets(a, b LockedAsset) int {
	return cmp.Or(cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Name, b.Name))
}

// Image returns the locked image for ref and arch, or false.
func (l *Lock) Image(ref, arch string) (LockedImage, bool) {
	for _, im := range l.Images {
		if im.Ref == ref && im.Arch == arch {
			return im, true
		}
	}
	return LockedImage{}, false
}

// Chart returns the locked chart archive for name and version, or false.
func (l *Lock) Chart(name, version string) (LockedChart, bool) {
	for _, c := range l.Charts {
		if c.Name == name && c.Version == version {
			return c, true
		}
	}
	return LockedChart{}, false
}

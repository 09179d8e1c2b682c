package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/internal/atomicfile"
)

// The cache directory holds:
//
//	archives/<sha256>/<name>-<version>.tgz   exact archive bytes
//	archives/<sha256>/<name>-<version>.tgz.prov  provenance, when pulled
//	refs/<sha256 of kind, repo, name, version>.json  → cacheRef
//	helm/   private Helm configuration (registry credentials, index cache)
type cache struct{ dir string }

// cacheRef points a (repo, name, version) at an archive by digest.
type cacheRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

func refKey(kind, repo, name, version string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + repo + "\x00" + name + "\x00" + version))
	return hex.EncodeToString(sum[:])
}

func (c cache) helmDir() string { return filepath.Join(c.dir, "helm") }

func (c cache) archivePath(sum, name, version string) string {
	return filepath.Join(c.dir, "archives", sum, fmt.Sprintf("%s-%s.tgz", name, version))
}

// lookup returns the cached archive for key, or nil when there is none or
// the cached bytes no longer match their digest (then the entry is ignored
// and the chart is pulled again).
func (c cache) lookup(key string) (*Archive, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, "refs", key+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read chart cache: %w", err)
	}
	var ref cacheRef
	if err := json.Unmarshal(b, &ref); err != nil {
		return nil, nil // a damaged ref is a cache miss
	}
	path := c.archivePath(ref.SHA256, ref.Name, ref.Version)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil
	}
	if digest(data) != ref.SHA256 {
		return nil, nil
	}
	return &Archive{Name: ref.Name, Version: ref.Version, Path: path, SHA256: ref.SHA256, Size: int64(len(data))}, nil
}

// store writes data (and prov, when not nil) under its digest and returns
// the archive.
func (c cache) store(name, version string, data, prov []byte) (*Archive, error) {
	sum := digest(data)
	path := c.archivePath(sum, name, version)
	if err := writeFileAtomic(path, data); err != nil {
		return nil, fmt.Errorf("store chart %s %s in cache: %w", name, version, err)
	}
	if prov != nil {
		if err := writeFileAtomic(path+".prov", prov); err != nil {
			return nil, fmt.Errorf("store provenance of chart %s %s in cache: %w", name, version, err)
		}
	}
	return &Archive{Name: name, Version: version, Path: path, SHA256: sum, Size: int64(len(data))}, nil
}

// remember records that key resolves to a.
func (c cache) remember(key string, a *Archive) error {
	b, err := json.Marshal(cacheRef{Name: a.Name, Version: a.Version, SHA256: a.SHA256, Size: a.Size})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, "refs", key+".json"), b); err != nil {
		return fmt.Errorf("record chart %s %s in cache: %w", a.Name, a.Version, err)
	}
	return nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeFileAtomic writes data to path (mode 0644) through a temporary file
// beside it, making the directory first.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

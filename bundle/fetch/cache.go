package fetch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/internal/digest"
)

// cache is the on-disk content store described in the package doc.
type cache struct {
	dir string
}

func openCache(dir string) (*cache, error) {
	c := &cache{dir: dir}
	for _, d := range []string{c.blobDir(), c.urlDir(), c.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create cache directory %s: %w: choose another with WithCacheDir or --cache-dir", d, err)
		}
	}
	return c, nil
}

func (c *cache) blobDir() string { return filepath.Join(c.dir, "blobs", "sha256") }
func (c *cache) urlDir() string  { return filepath.Join(c.dir, "urls") }
func (c *cache) tmpDir() string  { return filepath.Join(c.dir, "tmp") }

func (c *cache) blobPath(digest string) string { return filepath.Join(c.blobDir(), digest) }

func (c *cache) indexPath(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.urlDir(), hex.EncodeToString(sum[:]))
}

// blob returns the cached blob named digest, or nil when it is absent or its
// size differs from size (when size is known).
func (c *cache) blob(digest string, size int64) *File {
	p := c.blobPath(digest)
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	if size > 0 && fi.Size() != size {
		return nil
	}
	return &File{Path: p, SHA256: digest, Size: fi.Size(), FromCache: true}
}

// indexRecord is the content of urls/<sha256(url)>.
type indexRecord struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// lookupURL returns the blob an immutable URL returned before, if still
// cached.
func (c *cache) lookupURL(url string) *File {
	b, err := os.ReadFile(c.indexPath(url))
	if err != nil {
		return nil
	}
	var rec indexRecord
	if json.Unmarshal(b, &rec) != nil || rec.URL != url || !digest.IsSHA256Hex(rec.SHA256) {
		return nil
	}
	return c.blob(rec.SHA256, rec.Size)
}

// remember records that url returned f.
func (c *cache) remember(url string, f *File) error {
	b, err := json.Marshal(indexRecord{URL: url, SHA256: f.SHA256, Size: f.Size})
	if err != nil {
		return err
	}
	tmp, err := c.tempFile()
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write URL index: %w", err)
	}
	return c.place(tmp, c.indexPath(url))
}

// tempFile creates a file in tmp/, on the same filesystem as the blobs.
func (c *cache) tempFile() (*os.File, error) {
	f, err := os.CreateTemp(c.tmpDir(), "get-*.partial")
	if err != nil {
		return nil, fmt.Errorf("create temp file in cache: %w", err)
	}
	return f, nil
}

// commit syncs tmp and renames it to the blob named digest. tmp is closed
// and, on error, removed.
func (c *cache) commit(tmp *os.File, digest string, size int64) (*File, error) {
	p := c.blobPath(digest)
	if err := c.place(tmp, p); err != nil {
		return nil, err
	}
	return &File{Path: p, SHA256: digest, Size: size}, nil
}

// place syncs, closes and renames tmp to dst, then syncs dst's directory so
// that the rename survives a crash. tmp is removed on error.
func (c *cache) place(tmp *os.File, dst string) error {
	err := tmp.Chmod(0o644)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store %s in cache: %w", filepath.Base(dst), err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync() // best effort: some filesystems refuse to sync directories
		d.Close()
	}
	return nil
}

// discard closes and removes a temp file that will not be committed.
func discard(tmp *os.File) {
	tmp.Close()
	os.Remove(tmp.Name())
}

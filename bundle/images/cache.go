package images

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// store is a content-addressed directory of blobs (layers, configs and
// manifests alike): DIR/blobs/sha256/<hex>. A blob is written to DIR/tmp
// first and renamed into place only when its digest and size check out, so
// a blob in place is always whole and correct.
type store struct {
	dir string
}

// openStore makes the directories of a store at dir.
func openStore(dir string) (*store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("image cache %s: %w: choose a writable cache directory", dir, err)
		}
	}
	return &store{dir: dir}, nil
}

// checkDigest accepts only sha256 digests in canonical form, which also
// keeps a hostile digest from naming a path outside the store.
func checkDigest(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != 64 || strings.ToLower(h) != h {
		return "", fmt.Errorf("digest %q is not a sha256 digest (sha256:<64 lowercase hex>)", digest)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("digest %q is not a sha256 digest (sha256:<64 lowercase hex>)", digest)
	}
	return h, nil
}

func (s *store) path(digest string) (string, error) {
	h, err := checkDigest(digest)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, "blobs", "sha256", h), nil
}

// has reports whether the blob is in the store with the given size (any
// size when size < 0).
func (s *store) has(digest string, size int64) bool {
	p, err := s.path(digest)
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (size < 0 || fi.Size() == size)
}

// readAll reads a small blob (a manifest or config) and checks its digest,
// so a damaged cache is noticed rather than trusted.
func (s *store) readAll(digest string) ([]byte, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	if got := sha256Digest(b); got != digest {
		return nil, fmt.Errorf("cached blob %s has digest %s: delete it and build again", p, got)
	}
	return b, nil
}

// open opens a blob for reading; the caller checks the digest while it
// reads (see verifyingReader).
func (s *store) open(digest string) (*os.File, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// put stores the blob read from r under digest, checking the digest and
// (when size >= 0) the size before it renames the blob into place.
func (s *store) put(digest string, size int64, r io.Reader) error {
	return s.write(digest, size, r, true)
}

// putVerified is put for a reader that itself fails, instead of reaching
// io.EOF, when its content does not match digest (go-containerregistry's
// blob readers do): hashing the content a second time here would only
// cost a sha256 pass over every layer. The size is still checked.
func (s *store) putVerified(digest string, size int64, r io.Reader) error {
	return s.write(digest, size, r, false)
}

func (s *store) write(digest string, size int64, r io.Reader, hash bool) error {
	final, err := s.path(digest)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-*")
	if err != nil {
		return fmt.Errorf("cache blob %s: %w", digest, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	var dst io.Writer = tmp
	if hash {
		dst = io.MultiWriter(tmp, h)
	}
	if size >= 0 {
		// One byte more than declared is enough to know the blob is too
		// long: a registry cannot make the build read further.
		r = io.LimitReader(r, size+1)
	}
	n, err := io.Copy(dst, r)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("cache blob %s: %w", digest, err)
	}
	if size >= 0 && n > size {
		tmp.Close()
		return fmt.Errorf("blob %s: the registry sent more than the %d bytes the manifest declares: the registry serves a broken image (or a proxy alters it)", digest, size)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache blob %s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); hash && got != digest {
		return fmt.Errorf("blob %s: downloaded content has digest %s: the registry or a proxy altered it, try again", digest, got)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("blob %s: downloaded %d bytes, the manifest says %d: the registry serves a broken image", digest, n, size)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("cache blob %s: %w", digest, err)
	}
	return nil
}

// putBytes stores a small blob held in memory.
func (s *store) putBytes(digest string, b []byte) error {
	if s.has(digest, int64(len(b))) {
		return nil
	}
	return s.put(digest, int64(len(b)), bytes.NewReader(b))
}

func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"regexp"
)

// PartIndex is NAME.parts.json, written beside a bundle split for removable
// media: the parts in order with their sizes and digests, and the digest of
// the whole stream. It is signed (NAME.parts.json.sig) with the bundle's
// key, so that a damaged part can be named by number before anything else.
type PartIndex struct {
	Format int    `json:"format"`
	Bundle string `json:"bundle"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Parts  []Part `json:"parts"`
}

// Part is one piece of a split bundle.
type Part struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// MinPartSize is the smallest part WithSplit accepts (1 MiB).
const MinPartSize = 1 << 20

var partName = regexp.MustCompile(`^(.+)\.part(\d{3})$`)

// PartPath returns the name of part n (1-based) of the bundle at path.
func PartPath(path string, n int) string { return fmt.Sprintf("%s.part%03d", path, n) }

// SplitBase returns the bundle name of a part path (NAME.part001 gives
// NAME), and false for a path that is not a part.
func SplitBase(path string) (string, bool) {
	m := partName.FindStringSubmatch(path)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// PartError is a part of a split bundle that is missing or damaged.
type PartError struct {
	Number int
	Name   string
	Err    error
}

func (e *PartError) Error() string {
	return fmt.Sprintf("part %d (%s): %v: copy that part again", e.Number, e.Name, e.Err)
}
func (e *PartError) Unwrap() error { return e.Err }

// partWriter writes a stream into numbered temporary parts of at most size
// bytes, hashing each part and the whole as it goes.
type partWriter struct {
	path  string
	size  int64
	cur   *os.File
	n     int64
	h     hash.Hash
	tmp   []string
	index PartIndex
}

func newPartWriter(path string, size int64) *partWriter {
	return &partWriter{path: path, size: size, index: PartIndex{Format: FormatVersion, Bundle: filepath.Base(path)}}
}

func (w *partWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if w.cur == nil || w.n == w.size {
			if err := w.roll(); err != nil {
				return written, err
			}
		}
		chunk := p
		if rem := w.size - w.n; int64(len(chunk)) > rem {
			chunk = chunk[:rem]
		}
		n, err := w.cur.Write(chunk)
		w.h.Write(chunk[:n])
		w.n += int64(n)
		written += n
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// roll closes the current part and opens the next.
func (w *partWriter) roll() error {
	if err := w.closePart(); err != nil {
		return err
	}
	num := len(w.tmp) + 1
	if num > 999 {
		return errors.New("split: more than 999 parts: choose a larger part size")
	}
	f, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(PartPath(w.path, num))+".partial-*")
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	w.cur, w.n, w.h = f, 0, sha256.New()
	w.tmp = append(w.tmp, f.Name())
	return nil
}

func (w *partWriter) closePart() error {
	if w.cur == nil {
		return nil
	}
	f := w.cur
	w.cur = nil
	w.index.Parts = append(w.index.Parts, Part{Name: filepath.Base(PartPath(w.path, len(w.tmp))), Size: w.n, SHA256: hex.EncodeToString(w.h.Sum(nil))})
	w.index.Size += w.n
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("split: %w", err)
	}
	return f.Close()
}

// commit renames the parts into place.
func (w *partWriter) commit() error {
	if err := w.closePart(); err != nil {
		return err
	}
	for i, t := range w.tmp {
		if err := os.Chmod(t, 0o644); err != nil {
			return err
		}
		if err := os.Rename(t, PartPath(w.path, i+1)); err != nil {
			return fmt.Errorf("split: %w", err)
		}
	}
	return nil
}

func (w *partWriter) abort() {
	if w.cur != nil {
		w.cur.Close()
	}
	for _, t := range w.tmp {
		os.Remove(t)
	}
}

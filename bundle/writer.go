package bundle

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/signing"
)

// Source is one entry to write: its manifest entry (path, size, sha256,
// role) and a way to open its content. The writer checks the content
// against Entry while it copies (unless Hashed), so a changed source fails
// the write rather than producing a bundle whose signature covers wrong
// digests.
type Source struct {
	Entry Entry
	Open  func() (io.ReadCloser, error)
	// Hashed says the caller computed Entry.SHA256 from this very content,
	// in this process, from a file no one rewrites (a content-addressed
	// cache entry renamed into place). The writer then checks the size only,
	// instead of hashing every byte a second time. Leave it false for
	// anything read back from a cache written by an earlier run.
	Hashed bool
}

// Result describes a written bundle file.
type Result struct {
	Manifest *Manifest
	// ManifestBytes are the exact bytes of bundle.json.
	ManifestBytes []byte
	// Signature is the raw signature over bundle.json (nil when unsigned).
	Signature []byte
	// Size and SHA256 are of the whole compressed file, computed while it
	// was written, so that a detached signature needs no second pass.
	Size   int64
	SHA256 []byte
}

type writeConfig struct {
	level       zstd.EncoderLevel
	concurrency int
	window      int
	signer      signing.Signer
	modTime     time.Time
	progress    chan<- Progress
	split       int64
}

// Progress is an event sent while a bundle is written or read: the entry
// being copied and the uncompressed bytes done so far of the whole payload.
type Progress struct {
	Entry string
	Done  int64
	Total int64
}

// WriteOption configures Write.
type WriteOption func(*writeConfig) error

// WithLevel sets the zstd level (default zstd.SpeedDefault).
func WithLevel(l zstd.EncoderLevel) WriteOption {
	return func(c *writeConfig) error {
		if l < zstd.SpeedFastest || l > zstd.SpeedBestCompression {
			return fmt.Errorf("zstd level %d out of range", l)
		}
		c.level = l
		return nil
	}
}

// WithEncoderConcurrency sets how many goroutines compress (default
// GOMAXPROCS). n must be at least 1.
func WithEncoderConcurrency(n int) WriteOption {
	return func(c *writeConfig) error {
		if n < 1 {
			return fmt.Errorf("encoder concurrency %d: must be at least 1", n)
		}
		c.concurrency = n
		return nil
	}
}

// WithSigner signs bundle.json with s and records its key id. Without it the
// bundle is unsigned.
func WithSigner(s signing.Signer) WriteOption {
	return func(c *writeConfig) error { c.signer = s; return nil }
}

// WithModTime sets the mtime of every tar header (default the Unix epoch;
// callers pass SOURCE_DATE_EPOCH). Sub-second parts are dropped.
func WithModTime(t time.Time) WriteOption {
	return func(c *writeConfig) error { c.modTime = t.Truncate(time.Second); return nil }
}

// WithWriteProgress sends Progress events on ch (never blocking: events are
// dropped when ch is full).
func WithWriteProgress(ch chan<- Progress) WriteOption {
	return func(c *writeConfig) error { c.progress = ch; return nil }
}

// WithSplit makes WriteFile write the bundle as NAME.part001, NAME.part002,
// ... of at most size bytes each (FAT32 holds files under 4 GiB: 3900 MiB
// fits), with the signed index NAME.parts.json. Write ignores it.
func WithSplit(size int64) WriteOption {
	return func(c *writeConfig) error {
		if size < MinPartSize {
			return fmt.Errorf("split size %d bytes: must be at least %d", size, MinPartSize)
		}
		c.split = size
		return nil
	}
}

// EncoderWindow is the zstd window the writer uses (8 MiB). Readers cap the
// window they accept at MaxDecoderWindow, so bundles stay readable in
// little memory.
const EncoderWindow = 8 << 20

// Write writes a bundle to w: m (whose Entries are replaced by the sources'
// entries, sorted by path), its signature, then every source in order. The
// output is a deterministic function of m, the sources and the key.
func Write(ctx context.Context, w io.Writer, m Manifest, sources []Source, opts ...WriteOption) (*Result, error) {
	cfg := writeConfig{level: zstd.SpeedDefault, concurrency: runtime.GOMAXPROCS(0), window: EncoderWindow, modTime: time.Unix(0, 0)}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("write bundle: %w", err)
		}
	}
	sources = slices.Clone(sources)
	slices.SortFunc(sources, func(a, b Source) int { return strings.Compare(a.Entry.Path, b.Entry.Path) })
	m.Format = FormatVersion
	m.Entries = make([]Entry, len(sources))
	for i, s := range sources {
		m.Entries[i] = s.Entry
	}
	m.KeyID = ""
	if cfg.signer != nil {
		id, err := signing.KeyID(cfg.signer.PublicKey())
		if err != nil {
			return nil, fmt.Errorf("write bundle: %w", err)
		}
		m.KeyID = id
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	mb, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if len(mb) > MaxManifestSize {
		return nil, fmt.Errorf("write bundle: manifest is %d bytes, over the %d-byte cap", len(mb), MaxManifestSize)
	}
	res := &Result{Manifest: &m, ManifestBytes: mb}
	if cfg.signer != nil {
		if res.Signature, err = cfg.signer.Sign(ctx, mb); err != nil {
			return nil, fmt.Errorf("write bundle: sign manifest: %w", err)
		}
	}

	fileHash := newHashPipe()
	defer fileHash.stop()
	counted := &countWriter{w: io.MultiWriter(w, fileHash)}
	enc, err := zstd.NewWriter(counted,
		zstd.WithEncoderLevel(cfg.level),
		zstd.WithEncoderConcurrency(cfg.concurrency),
		zstd.WithWindowSize(cfg.window),
		zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, fmt.Errorf("write bundle: zstd: %w", err)
	}
	tw := tar.NewWriter(enc)
	header := func(name string, size int64, mode uint32) *tar.Header {
		if mode == 0 {
			mode = 0o644
		}
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: int64(mode), ModTime: cfg.modTime, Format: tar.FormatPAX}
	}
	writeBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(header(name, int64(len(b)), 0o644)); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := writeBytes(ManifestName, mb); err != nil {
		enc.Close()
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if res.Signature != nil {
		if err := writeBytes(SignatureName, signing.EncodeSignature(res.Signature)); err != nil {
			enc.Close()
			return nil, fmt.Errorf("write bundle: %w", err)
		}
	}
	total := m.PayloadSize()
	var done int64
	buf := make([]byte, 1<<20)
	for _, s := range sources {
		if err := ctx.Err(); err != nil {
			enc.Close()
			return nil, fmt.Errorf("write bundle: %w", err)
		}
		if err := tw.WriteHeader(header(s.Entry.Path, s.Entry.Size, s.Entry.Mode)); err != nil {
			enc.Close()
			return nil, fmt.Errorf("write bundle entry %s: %w", s.Entry.Path, err)
		}
		if err := copySource(tw, s, buf); err != nil {
			enc.Close()
			return nil, err
		}
		done += s.Entry.Size
		cfg.send(Progress{Entry: s.Entry.Path, Done: done, Total: total})
	}
	if err := tw.Close(); err != nil {
		enc.Close()
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	res.Size = counted.n
	res.SHA256 = fileHash.Sum()
	return res, nil
}

func (c *writeConfig) send(p Progress) {
	if c.progress == nil {
		return
	}
	select {
	case c.progress <- p:
	default:
	}
}

// copySource copies one source into the tar stream, hashing as it goes
// (unless s.Hashed), and fails if the content differs from its entry in size
// or sha256.
func copySource(dst io.Writer, s Source, buf []byte) error {
	rc, err := s.Open()
	if err != nil {
		return fmt.Errorf("write bundle entry %s: open: %w", s.Entry.Path, err)
	}
	defer rc.Close()
	var h hash.Hash // nil: s.Hashed, the size is all that is checked
	w := dst
	if !s.Hashed {
		h = sha256.New()
		w = io.MultiWriter(dst, h)
	}
	n, err := io.CopyBuffer(w, io.LimitReader(rc, s.Entry.Size+1), buf)
	if err != nil {
		return fmt.Errorf("write bundle entry %s: %w", s.Entry.Path, err)
	}
	if n != s.Entry.Size {
		return fmt.Errorf("write bundle entry %s: source has %s bytes, its entry says %d: the source changed after it was hashed", s.Entry.Path, sizeWord(n, s.Entry.Size), s.Entry.Size)
	}
	if h != nil {
		if got := hexSum(h); got != s.Entry.SHA256 {
			return &DigestError{Entry: s.Entry.Path, Want: s.Entry.SHA256, Got: got}
		}
	}
	return nil
}

func sizeWord(n, want int64) string {
	if n > want {
		return "more than " + fmt.Sprint(want)
	}
	return fmt.Sprint(n)
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/signing"
)

// MaxDecoderWindow is the largest zstd window a reader accepts (32 MiB). A
// frame that asks for more is refused before memory is allocated for it.
const MaxDecoderWindow = 32 << 20

// Per-entry tar overhead the reader allows beyond the manifest's sizes: a
// header, a PAX header and its records. Names are capped at maxNameLen, so
// three blocks always suffice.
const (
	tarBlock        = 512
	entryOverhead   = 3 * tarBlock
	trailerAllowed  = 20 * tarBlock // end-of-archive blocks and record padding
	preambleAllowed = MaxManifestSize + maxSignatureSize + 4*entryOverhead
)

type readConfig struct {
	progress     func(read, total int64)
	verifier     signing.Verifier
	skipSig      bool
	allowExpired bool
	now          func() time.Time
	concurrency  int
}

// ReadOption configures NewReader.
type ReadOption func(*readConfig)

// WithVerifier sets the trusted key. The signature over bundle.json must
// verify with it before anything else in the bundle is trusted.
func WithVerifier(v signing.Verifier) ReadOption { return func(c *readConfig) { c.verifier = v } }

// WithInsecureSkipSignature accepts a bundle without checking its signature.
// Entries are still checked against the manifest.
func WithInsecureSkipSignature() ReadOption { return func(c *readConfig) { c.skipSig = true } }

// WithProgress makes Open report, as the bundle streams, the bytes read so
// far and the bundle's total size (all parts of a split bundle). fn is
// called from the reading goroutine after every read; it must be quick.
func WithProgress(fn func(read, total int64)) ReadOption {
	return func(c *readConfig) { c.progress = fn }
}

// WithAllowExpired accepts a bundle whose expiry has passed (for inspect).
func WithAllowExpired() ReadOption { return func(c *readConfig) { c.allowExpired = true } }

// WithClock sets the clock used for the expiry check (default time.Now).
func WithClock(now func() time.Time) ReadOption { return func(c *readConfig) { c.now = now } }

// WithDecoderConcurrency sets the zstd decoder's goroutines (default 2; 1
// decodes in the caller's goroutine and uses the least memory).
func WithDecoderConcurrency(n int) ReadOption {
	return func(c *readConfig) {
		if n >= 1 {
			c.concurrency = n
		}
	}
}

// Reader streams a bundle: it verifies the manifest on creation, then Next
// yields each entry through a reader that checks size and sha256 as it goes.
type Reader struct {
	src     *countReader // compressed input, for offsets in errors
	dec     *zstd.Decoder
	plain   *limitReader // decompressed stream, bounded by the manifest
	tr      *tar.Reader
	m       *Manifest
	mb, sig []byte
	pending *tar.Header // first payload header when the bundle is unsigned
	next    int         // index in m.Entries of the entry expected next
	cur     *entryReader
	signer  string // the verified signer's key id; empty when not checked
	file    *File  // the source, when it is a File: it names bad parts
	done    bool
	err     error // sticky
}

// NewReader reads and verifies the manifest at the head of r. With a
// verifier, an unsigned bundle or a bad signature is an error; without one
// WithInsecureSkipSignature must be given. The caller must Close the Reader.
func NewReader(ctx context.Context, r io.Reader, opts ...ReadOption) (*Reader, error) {
	cfg := readConfig{now: time.Now, concurrency: 2}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.verifier == nil && !cfg.skipSig {
		return nil, errNoTrust
	}
	src := &countReader{r: r}
	file, _ := r.(*File)
	dec, err := zstd.NewReader(src,
		zstd.WithDecoderMaxWindow(MaxDecoderWindow),
		zstd.WithDecoderMaxMemory(MaxDecoderWindow),
		zstd.WithDecoderConcurrency(cfg.concurrency),
		zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	br := &Reader{src: src, dec: dec, file: file}
	br.plain = &limitReader{r: dec, limit: preambleAllowed}
	br.tr = tar.NewReader(br.plain)
	if err := br.readPreamble(ctx, &cfg); err != nil {
		br.Close()
		return nil, err
	}
	return br, nil
}

func (r *Reader) readPreamble(ctx context.Context, cfg *readConfig) error {
	hdr, err := r.header()
	if err == io.EOF {
		return &StreamError{Offset: r.src.n.Load(), Err: errors.New("no entries: this is not a Ferry bundle")}
	}
	if err != nil {
		return err
	}
	if hdr.Name != ManifestName {
		return &FormatError{Entry: hdr.Name, Err: fmt.Errorf("first entry must be %s: this is not a Ferry bundle", ManifestName)}
	}
	if r.mb, err = r.readSmall(hdr, MaxManifestSize); err != nil {
		return err
	}
	hdr, err = r.header()
	switch {
	case err == io.EOF:
		hdr = nil
	case err != nil:
		return err
	}
	if hdr != nil && hdr.Name == SignatureName {
		if r.sig, err = r.readSmall(hdr, maxSignatureSize); err != nil {
			return err
		}
	} else {
		r.pending = hdr
	}
	if !cfg.skipSig {
		if r.sig == nil {
			return ErrUnsigned
		}
		raw, err := signing.DecodeSignature(r.sig)
		if err != nil {
			return fmt.Errorf("%w (%v)", ErrSignature, err)
		}
		if err := cfg.verifier.Verify(ctx, r.mb, raw); err != nil {
			return ErrSignature
		}
	}
	if r.m, err = ParseManifest(r.mb); err != nil {
		return err
	}
	if !cfg.skipSig {
		// The signature binds the manifest to the key; the key id in it
		// must name that same key, or status and audits would credit a
		// signer who never signed.
		if id := cfg.verifier.KeyID(); r.m.KeyID != id {
			return fmt.Errorf("%w: the manifest names signer %q, the signature was made by %s", ErrSignerMismatch, r.m.KeyID, id)
		}
		r.signer = r.m.KeyID
	}
	if !cfg.allowExpired && r.m.Expired(cfg.now()) {
		return fmt.Errorf("%w (expired %s)", ErrExpired, r.m.Expires.Format(time.RFC3339))
	}
	// From here on the stream may hold exactly what the manifest says.
	r.plain.limit = r.plain.n + int64(len(r.m.Entries))*entryOverhead + trailerAllowed
	if r.pending != nil {
		r.plain.limit += entryOverhead
	}
	for _, e := range r.m.Entries {
		r.plain.limit += (e.Size + tarBlock - 1) / tarBlock * tarBlock
	}
	return nil
}

// header reads the next tar header and checks its name, type and mode.
func (r *Reader) header() (*tar.Header, error) {
	for {
		hdr, err := r.tr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, r.streamErr(err)
		}
		name := hdr.Name
		if hdr.Typeflag == tar.TypeDir {
			name = trimSlash(name)
		}
		if err := CheckName(name); err != nil {
			return nil, err
		}
		if hdr.Mode&^0o777 != 0 {
			return nil, &FormatError{Entry: name, Err: fmt.Errorf("mode %#o has setuid, setgid or sticky bits: refused", hdr.Mode)}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue // directories carry nothing; entries name their full paths
		case tar.TypeReg:
			return hdr, nil
		default:
			return nil, &FormatError{Entry: name, Err: fmt.Errorf("tar type %q is not a regular file: links, devices and FIFOs are refused", string(hdr.Typeflag))}
		}
	}
}

func (r *Reader) readSmall(hdr *tar.Header, max int64) ([]byte, error) {
	if hdr.Size > max {
		return nil, &LimitError{What: fmt.Sprintf("%s is %d bytes", hdr.Name, hdr.Size), Limit: max}
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r.tr); err != nil {
		return nil, r.streamErr(err)
	}
	return buf.Bytes(), nil
}

// Manifest returns the verified manifest.
func (r *Reader) Manifest() *Manifest { return r.m }

// ManifestBytes returns the exact bytes of bundle.json.
func (r *Reader) ManifestBytes() []byte { return r.mb }

// SignerKeyID returns the key id of the key that verified the manifest, or
// "" when the signature was not checked (WithInsecureSkipSignature): never
// an id the manifest merely claims.
func (r *Reader) SignerKeyID() string { return r.signer }

// Signature returns the raw base64 content of bundle.json.sig (nil when
// the bundle is unsigned).
func (r *Reader) Signature() []byte { return r.sig }

// Next advances to the next entry and returns it with a reader of its
// content. That reader returns a *DigestError instead of io.EOF when the
// content does not match the manifest. An entry not read to its end is
// drained and checked by the following Next. At the end of a complete,
// valid bundle Next returns io.EOF.
func (r *Reader) Next() (Entry, io.Reader, error) {
	if r.err != nil {
		return Entry{}, nil, r.err
	}
	e, er, err := r.advance()
	if err != nil {
		r.err = err
	}
	return e, er, err
}

func (r *Reader) advance() (Entry, io.Reader, error) {
	if r.cur != nil {
		if _, err := io.Copy(io.Discard, r.cur); err != nil {
			return Entry{}, nil, err
		}
		r.cur = nil
	}
	if r.done {
		return Entry{}, nil, io.EOF
	}
	hdr := r.pending
	r.pending = nil
	if hdr == nil {
		var err error
		hdr, err = r.header()
		if err == io.EOF {
			return Entry{}, nil, r.finish()
		}
		if err != nil {
			return Entry{}, nil, err
		}
	}
	e, err := r.expect(hdr)
	if err != nil {
		return Entry{}, nil, err
	}
	r.cur = &entryReader{r: r.tr, e: e, h: sha256.New(), owner: r}
	return e, r.cur, nil
}

// expect matches a header against the entry the manifest lists next.
func (r *Reader) expect(hdr *tar.Header) (Entry, error) {
	if r.next >= len(r.m.Entries) {
		if _, ok := r.m.Entry(hdr.Name); ok || hdr.Name == ManifestName || hdr.Name == SignatureName {
			return Entry{}, &FormatError{Entry: hdr.Name, Err: errors.New("appears twice")}
		}
		return Entry{}, &FormatError{Entry: hdr.Name, Err: errors.New("is not in the manifest")}
	}
	want := r.m.Entries[r.next]
	if hdr.Name != want.Path {
		i := -1
		for j, e := range r.m.Entries {
			if e.Path == hdr.Name {
				i = j
			}
		}
		switch {
		case hdr.Name == ManifestName || hdr.Name == SignatureName || (i >= 0 && i < r.next):
			return Entry{}, &FormatError{Entry: hdr.Name, Err: errors.New("appears twice")}
		case i > r.next:
			return Entry{}, &FormatError{Entry: want.Path, Err: fmt.Errorf("missing or out of order: found %q where the manifest lists %q next", hdr.Name, want.Path)}
		default:
			return Entry{}, &FormatError{Entry: hdr.Name, Err: errors.New("is not in the manifest")}
		}
	}
	if hdr.Size != want.Size {
		return Entry{}, &FormatError{Entry: want.Path, Err: fmt.Errorf("tar header says %d bytes, the manifest says %d", hdr.Size, want.Size)}
	}
	r.next++
	return want, nil
}

// finish runs at the end of the tar stream: every entry must have been
// seen, and nothing but zero padding may follow.
func (r *Reader) finish() error {
	if r.next < len(r.m.Entries) {
		return &FormatError{Entry: r.m.Entries[r.next].Path, Err: errors.New("missing: the bundle ends before this entry; it is truncated or was edited")}
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := r.plain.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return &LimitError{What: "data after the end of the tar archive", Limit: 0}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return r.streamErr(err)
		}
	}
	r.done = true
	return io.EOF
}

// Close releases the decoder. It does not close the underlying reader.
func (r *Reader) Close() error {
	r.dec.Close()
	return nil
}

// streamErr names the compressed offset at which reading failed.
func (r *Reader) streamErr(err error) error {
	var (
		le *LimitError
		pe *PartError
		se *SideFileError
	)
	if errors.As(err, &le) || errors.As(err, &pe) || errors.As(err, &se) {
		return err
	}
	if r.file != nil {
		if perr := r.file.diagnose(); perr != nil {
			return perr
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &StreamError{Offset: r.src.n.Load(), Err: err}
}

// StreamError is a failure to read or decompress the bundle stream itself:
// a truncated file, a corrupt zstd frame, a read error of the medium.
type StreamError struct {
	Offset int64 // bytes of the (compressed) bundle read when it failed
	Err    error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("read bundle at byte %d: %v: the file is truncated or damaged, copy it again", e.Offset, e.Err)
}
func (e *StreamError) Unwrap() error { return e.Err }

// Verify reads a whole bundle, checking the signature and every entry, and
// returns its manifest. Nothing is written anywhere.
func Verify(ctx context.Context, r io.Reader, opts ...ReadOption) (*Manifest, error) {
	br, err := NewReader(ctx, r, opts...)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, _, err := br.Next()
		if err == io.EOF {
			return br.Manifest(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

type entryReader struct {
	r     io.Reader
	e     Entry
	h     hash.Hash
	n     int64
	err   error
	owner *Reader
}

func (er *entryReader) Read(p []byte) (int, error) {
	if er.err != nil {
		return 0, er.err
	}
	n, err := er.r.Read(p)
	er.h.Write(p[:n])
	er.n += int64(n)
	switch {
	case err == io.EOF:
		if er.n != er.e.Size {
			er.err = er.owner.streamErr(io.ErrUnexpectedEOF)
		} else if got := hexSum(er.h); got != er.e.SHA256 {
			er.err = &DigestError{Entry: er.e.Path, Want: er.e.SHA256, Got: got}
		} else {
			er.err = io.EOF
		}
		return n, er.err
	case err != nil:
		er.err = er.owner.streamErr(err)
		return n, er.err
	}
	return n, nil
}

// countReader counts the compressed bytes read. The zstd decoder reads on
// a goroutine of its own while errors are reported from the caller's, so
// the count is atomic.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// limitReader fails once more than limit bytes were read: the manifest
// bounds the decompressed size, so a decompression bomb stops here.
type limitReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n >= l.limit {
		// One probe byte tells a clean end from an overrun.
		var one [1]byte
		if _, err := io.ReadFull(l.r, one[:]); err != nil {
			return 0, err
		}
		return 0, &LimitError{What: "decompressed data beyond what the manifest declares", Limit: l.limit}
	}
	if rem := l.limit - l.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

func trimSlash(s string) string {
	for len(s) > 1 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

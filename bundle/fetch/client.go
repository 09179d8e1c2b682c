package fetch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/ferry-k3s/ferry/internal/digest"
)

// Want states what the caller knows about the content of a URL.
type Want struct {
	// SHA256 is the expected lowercase hex digest ("sha256:" prefix and
	// upper case accepted); empty when unknown. When set and the blob is
	// cached, Get makes no request.
	SHA256 string
	// Size is the expected size in bytes; 0 means unknown.
	Size int64
	// Immutable marks a URL whose content never changes (an exact release
	// asset): Get remembers which blob it returned and, next time, makes no
	// request even without SHA256.
	Immutable bool
	// Max caps the download when Size is 0, whether or not the server
	// declares a Content-Length: a longer download fails with a
	// *TooLargeError at the first byte over. 0 means the Client's
	// WithMaxSize (DefaultMaxSize).
	Max int64
}

// File is content in the cache.
type File struct {
	// Path is the blob in the cache; treat it as read-only.
	Path string
	// SHA256 is the lowercase hex digest of the content.
	SHA256 string
	// Size is the content length in bytes.
	Size int64
	// FromCache is true when Get made no request and read no source.
	FromCache bool
}

// Open opens the cached content for reading; its signature fits
// bundle.Source.Open.
func (f *File) Open() (io.ReadCloser, error) { return os.Open(f.Path) }

// Progress is an event about one Get: Done bytes of Total so far (Total is
// 0 when unknown). A Get sends one with Done == Total when it ends well.
type Progress struct {
	URL         string
	Done, Total int64
}

// Stats counts what a Client did since New.
type Stats struct {
	// Requests is the number of HTTP requests sent (redirects included).
	Requests int64
	// BytesDownloaded is the number of body bytes received over HTTP.
	BytesDownloaded int64
	// BytesCopied is the number of bytes read from local (file://) sources.
	BytesCopied int64
	// CacheHits is the number of Gets answered from the cache alone.
	CacheHits int64
	// Retries is the number of attempts made after a failed one.
	Retries int64
}

// Client downloads into a content cache. It is safe for concurrent use;
// concurrent Gets of one URL within a Client take turns, so an immutable or
// digest-pinned URL is downloaded once.
type Client struct {
	cfg   config
	cache *cache
	http  *http.Client
	locks keyLocks

	requests, downloaded, copied, hits, retries atomic.Int64
}

// New returns a Client configured by opts (see the WithXxx functions for
// defaults) and creates its cache directory.
func New(opts ...Option) (*Client, error) {
	cfg := config{
		retries:   DefaultRetries,
		initial:   DefaultInitialBackoff,
		max:       DefaultMaxBackoff,
		stall:     DefaultStallTimeout,
		maxSize:   DefaultMaxSize,
		userAgent: DefaultUserAgent,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("configure fetch client: %w", err)
		}
	}
	if cfg.cacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cfg.cacheDir = d
	}
	if cfg.transport == nil {
		cfg.transport = defaultTransport()
	}
	cache, err := openCache(cfg.cacheDir)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, cache: cache}
	c.http = &http.Client{Transport: &countingTransport{next: cfg.transport, n: &c.requests}}
	return c, nil
}

// CacheDir returns the directory of the content cache.
func (c *Client) CacheDir() string { return c.cache.dir }

// Stats returns a snapshot of the Client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Requests:        c.requests.Load(),
		BytesDownloaded: c.downloaded.Load(),
		BytesCopied:     c.copied.Load(),
		CacheHits:       c.hits.Load(),
		Retries:         c.retries.Load(),
	}
}

// Get returns the content of rawURL (https://, http://, file:// or a bare
// local path) from the cache, downloading or copying it there first when
// needed, and checks it against want. A content mismatch is a *DigestError
// or *SizeError and leaves nothing in the cache; a missing source matches
// ErrNotFound. Temp files are removed on error and on cancellation.
func (c *Client) Get(ctx context.Context, rawURL string, want Want) (*File, error) {
	digest, err := normalizeDigest(want.SHA256)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	want.SHA256 = digest
	if want.Max < 0 {
		return nil, fmt.Errorf("fetch %s: negative size limit %d: give a limit in bytes or 0 for the default", rawURL, want.Max)
	}
	if want.Size < 0 {
		return nil, fmt.Errorf("fetch %s: negative expected size %d: give the size in bytes or 0 if unknown", rawURL, want.Size)
	}
	src, err := parseSource(rawURL)
	if err != nil {
		return nil, err
	}
	if f := c.lookup(src.key, want); f != nil {
		c.hits.Add(1)
		c.report(rawURL, f.Size, f.Size)
		return f, nil
	}
	unlock, err := c.locks.lock(ctx, src.key)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	defer unlock()
	// Another Get of the same source may have filled the cache meanwhile.
	if f := c.lookup(src.key, want); f != nil {
		c.hits.Add(1)
		c.report(rawURL, f.Size, f.Size)
		return f, nil
	}
	var f *File
	if src.local != "" {
		f, err = c.copyLocal(ctx, rawURL, src.local, want)
	} else {
		f, err = c.download(ctx, rawURL, want)
	}
	if err != nil {
		return nil, err
	}
	if want.Immutable {
		if err := c.cache.remember(src.key, f); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
		}
	}
	c.report(rawURL, f.Size, f.Size)
	return f, nil
}

// maxSize is the ceiling of a download of unknown size.
func (c *Client) maxSize(want Want) int64 {
	if want.Max > 0 {
		return want.Max
	}
	return c.cfg.maxSize
}

func (c *Client) lookup(key string, want Want) *File {
	if want.SHA256 != "" {
		return c.cache.blob(want.SHA256, want.Size)
	}
	if want.Immutable {
		if f := c.cache.lookupURL(key); f != nil && (want.Size == 0 || f.Size == want.Size) {
			return f
		}
	}
	return nil
}

// report sends a Progress event without blocking.
func (c *Client) report(url string, done, total int64) {
	if c.cfg.progress == nil {
		return
	}
	select {
	case c.cfg.progress <- Progress{URL: url, Done: done, Total: total}:
	default:
	}
}

// source is a parsed URL: key is the URL as the cache index knows it; local
// is set for file:// URLs and bare paths.
type source struct {
	key   string
	local string
}

func parseSource(raw string) (source, error) {
	if raw == "" {
		return source{}, errors.New("fetch: empty URL: give an https://, http:// or file:// URL or a local path")
	}
	if !strings.Contains(raw, "://") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return source{}, fmt.Errorf("fetch %s: %w", raw, err)
		}
		return source{key: "file://" + filepath.ToSlash(abs), local: abs}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, fmt.Errorf("fetch %s: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return source{}, fmt.Errorf("fetch %s: URL has no host", raw)
		}
		return source{key: u.String()}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, fmt.Errorf("fetch %s: file URL names host %q: write file:///absolute/path", raw, u.Host)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return source{}, fmt.Errorf("fetch %s: file URL needs an absolute path: write file:///absolute/path", raw)
		}
		p := filepath.Clean(filepath.FromSlash(u.Path))
		return source{key: "file://" + filepath.ToSlash(p), local: p}, nil
	}
	return source{}, fmt.Errorf("fetch %s: unsupported scheme %q: use https://, http://, file:// or a local path", raw, u.Scheme)
}

func normalizeDigest(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	d := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "sha256:"), "SHA256:"))
	if !digest.IsSHA256Hex(d) {
		return "", fmt.Errorf("expected sha256 %q is not 64 hex digits: pin the digest printed by sha256sum", s)
	}
	return d, nil
}

// copyLocal copies a local file into the cache, hashing it on the way.
func (c *Client) copyLocal(ctx context.Context, rawURL, path string, want Want) (*File, error) {
	in, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("fetch %s: not a regular file: name a file, not a directory or device", rawURL)
	}
	if want.Size > 0 && fi.Size() != want.Size {
		return nil, &SizeError{URL: rawURL, Want: want.Size, Got: fi.Size()}
	}
	tmp, err := c.cache.tempFile()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	h := sha256.New()
	w := &sink{file: tmp, hash: h}
	n, err := copyCtx(ctx, w, in, func(done int64) { c.report(rawURL, done, fi.Size()) })
	c.copied.Add(n)
	if err != nil {
		discard(tmp)
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	return c.finish(rawURL, tmp, h, n, want)
}

// finish checks the content written to tmp against want and commits it.
func (c *Client) finish(rawURL string, tmp *os.File, h hash.Hash, n int64, want Want) (*File, error) {
	got := fmt.Sprintf("%x", h.Sum(nil))
	if want.Size > 0 && n != want.Size {
		discard(tmp)
		return nil, &SizeError{URL: rawURL, Want: want.Size, Got: n}
	}
	if want.SHA256 != "" && got != want.SHA256 {
		discard(tmp)
		return nil, &DigestError{URL: rawURL, Want: want.SHA256, Got: got}
	}
	f, err := c.cache.commit(tmp, got, n)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	return f, nil
}

// sink writes to a temp file and its running hash together.
type sink struct {
	file *os.File
	hash hash.Hash
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.file.Write(p)
	s.hash.Write(p[:n])
	return n, err
}

// copyCtx copies src to dst until EOF, checking ctx between chunks and
// calling progress after each chunk. It returns the bytes written.
func copyCtx(ctx context.Context, dst io.Writer, src io.Reader, progress func(int64)) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		r, rerr := src.Read(buf)
		if r > 0 {
			w, werr := dst.Write(buf[:r])
			n += int64(w)
			if werr != nil {
				return n, &diskError{werr}
			}
			progress(n)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// diskError is a failure to write the cache; retrying would not help.
type diskError struct{ err error }

func (e *diskError) Error() string { return "write cache: " + e.err.Error() }
func (e *diskError) Unwrap() error { return e.err }

// countingTransport counts every request it sends.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

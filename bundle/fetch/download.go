package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/internal/stall"
)

// errStalled ends an attempt whose response sent nothing for too long.
var errStalled = errors.New("no data received within the stall timeout: the server or a proxy hangs; try again, or raise --stall-timeout")

// download gets an http(s) URL into the cache, retrying and resuming.
func (c *Client) download(ctx context.Context, url string, want Want) (*File, error) {
	tmp, err := c.cache.tempFile()
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	t := &transfer{c: c, url: url, want: want, file: tmp, hash: sha256.New()}
	for attempt := 0; ; attempt++ {
		err := t.attempt(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			discard(tmp)
			return nil, fmt.Errorf("fetch %s: %w", url, context.Cause(ctx))
		}
		if !retryable(err) {
			discard(tmp)
			return nil, wrapFinal(url, attempt+1, err)
		}
		if attempt >= c.cfg.retries {
			discard(tmp)
			return nil, wrapFinal(url, attempt+1, err)
		}
		c.retries.Add(1)
		if err := stall.Sleep(ctx, c.backoff(attempt, err)); err != nil {
			discard(tmp)
			return nil, fmt.Errorf("fetch %s: %w", url, err)
		}
	}
	return c.finish(url, tmp, t.hash, t.written, want)
}

func wrapFinal(url string, attempts int, err error) error {
	var de *DigestError
	var se *SizeError
	var tl *TooLargeError
	if errors.As(err, &de) || errors.As(err, &se) || errors.As(err, &tl) {
		return err // already names the URL and the fix
	}
	if attempts > 1 {
		return fmt.Errorf("fetch %s: giving up after %d attempts: %w", url, attempts, err)
	}
	return fmt.Errorf("fetch %s: %w", url, err)
}

// transfer is one download across its attempts: the temp file and its
// running hash stay in step, so an attempt can resume where the last ended.
type transfer struct {
	c         *Client
	url       string
	want      Want
	file      *os.File
	hash      hash.Hash
	written   int64
	validator string // ETag or Last-Modified of the first response, for If-Range
}

// attempt sends one request and appends its body to the temp file.
func (t *transfer) attempt(ctx context.Context) error {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(t.c.cfg.stall, func() { cancel(errStalled) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, t.url, nil)
	if err != nil {
		return &permanentError{err}
	}
	req.Header.Set("User-Agent", t.c.cfg.userAgent)
	// Asking for identity keeps net/http from decompressing: the bytes
	// hashed are the bytes the server stores.
	req.Header.Set("Accept-Encoding", "identity")
	if t.written > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", t.written))
		if t.validator != "" {
			req.Header.Set("If-Range", t.validator)
		}
	}
	resp, err := t.c.http.Do(req)
	if err != nil {
		return stallCause(actx, err)
	}
	defer resp.Body.Close()

	var total int64
	switch {
	case resp.StatusCode == http.StatusOK:
		if t.written > 0 { // the server ignored Range: start again
			if err := t.reset(); err != nil {
				return err
			}
		}
		total = max(resp.ContentLength, 0)
		t.validator = validator(resp.Header)
	case resp.StatusCode == http.StatusPartialContent && t.written > 0:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != t.written {
			if err := t.reset(); err != nil {
				return err
			}
			return fmt.Errorf("server resumed at the wrong offset (Content-Range %q, want start %d)", resp.Header.Get("Content-Range"), t.written)
		}
		total = size
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && t.written > 0:
		if err := t.reset(); err != nil {
			return err
		}
		return errors.New("server refused to resume (HTTP 416)")
	default:
		return &StatusError{URL: t.url, StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	}
	if t.want.Size > 0 && total > 0 && total != t.want.Size {
		return &SizeError{URL: t.url, Want: t.want.Size, Got: total}
	}
	ceiling := t.c.maxSize(t.want)
	if t.want.Size == 0 && total > ceiling {
		return &TooLargeError{URL: t.url, Max: ceiling, Declared: total, Fixed: t.want.Max > 0}
	}
	// The body is read to one byte past the size declared by the caller,
	// else by the server, else the ceiling: no server makes a Get read
	// further than that.
	progressTotal := total
	limit := total
	switch {
	case t.want.Size > 0:
		limit, progressTotal = t.want.Size, t.want.Size
	case limit == 0:
		limit = ceiling
	}
	var body io.Reader = &stallReader{r: resp.Body, timer: stall, d: t.c.cfg.stall}
	body = io.LimitReader(body, limit-t.written+1)
	n, err := copyCtx(actx, &sink{file: t.file, hash: t.hash}, body, func(done int64) {
		t.c.report(t.url, t.written+done, progressTotal)
	})
	t.written += n
	t.c.downloaded.Add(n)
	if err != nil {
		return stallCause(actx, err)
	}
	if t.want.Size > 0 && t.written > t.want.Size {
		return &SizeError{URL: t.url, Want: t.want.Size, Got: t.written, AtLeast: true}
	}
	if t.want.Size == 0 && t.written > limit {
		return &TooLargeError{URL: t.url, Max: limit, Declared: total, Fixed: t.want.Max > 0}
	}
	if total > 0 && t.written < total {
		return fmt.Errorf("body ended after %d of %d bytes: %w", t.written, total, io.ErrUnexpectedEOF)
	}
	return nil
}

// reset empties the temp file for a download that starts over.
func (t *transfer) reset() error {
	if err := t.file.Truncate(0); err != nil {
		return &diskError{err}
	}
	if _, err := t.file.Seek(0, io.SeekStart); err != nil {
		return &diskError{err}
	}
	t.hash.Reset()
	t.written = 0
	t.validator = ""
	return nil
}

// stallCause replaces the context error of an attempt ended by the stall
// timer with errStalled, so that it reads well and is retried.
func stallCause(actx context.Context, err error) error {
	if errors.Is(context.Cause(actx), errStalled) {
		return errStalled
	}
	return err
}

// stallReader pushes the stall deadline back whenever bytes arrive.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.d)
	}
	return n, err
}

// validator returns a value for If-Range: a strong ETag, else Last-Modified.
func validator(h http.Header) string {
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		return et
	}
	return h.Get("Last-Modified")
}

// parseContentRange parses "bytes START-END/SIZE"; size is 0 when "*".
func parseContentRange(s string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, false
		}
	}
	return start, size, true
}

// permanentError is a failure that no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryable reports whether another attempt may succeed: network errors,
// stalls, cut bodies, 5xx, 408 and 429 may; wrong content, refused
// certificates, other statuses and disk errors do not.
func retryable(err error) bool {
	var (
		se   *StatusError
		de   *DigestError
		sz   *SizeError
		big  *TooLargeError
		disk *diskError
		perm *permanentError
		ua   x509.UnknownAuthorityError
		hn   x509.HostnameError
		cv   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &se):
		return se.retryable()
	case errors.As(err, &de), errors.As(err, &sz), errors.As(err, &big), errors.As(err, &disk), errors.As(err, &perm):
		return false
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &cv):
		return false
	}
	return true
}

// backoff returns the wait after failed attempt number attempt (from 0):
// initial doubled per attempt, capped at max, jittered down by up to half,
// and no shorter than a Retry-After the server asked for (itself capped).
func (c *Client) backoff(attempt int, err error) time.Duration {
	d := c.cfg.initial
	for i := 0; i < attempt && d < c.cfg.max; i++ {
		d *= 2
	}
	d = min(d, c.cfg.max)
	d = d/2 + rand.N(d/2+1)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter != "" {
		if secs, perr := strconv.Atoi(se.RetryAfter); perr == nil && secs > 0 {
			d = max(d, min(time.Duration(secs)*time.Second, c.cfg.max))
		}
	}
	return d
}

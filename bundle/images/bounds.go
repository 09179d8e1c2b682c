package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Bounds of every registry exchange. A registry is an input like any other:
// it may answer too much, or nothing at all.
const (
	// DefaultStallTimeout is how long a registry response may send no
	// bytes (waiting for its headers included) before the request is
	// abandoned and retried. WithStallTimeout overrides it.
	DefaultStallTimeout = 60 * time.Second
	// MaxMetadataResponse caps any response that is not a blob: manifests,
	// indexes, tokens and error bodies (4 MiB, the manifest limit of the
	// CNCF distribution registry). Blobs are cut at the size their
	// descriptor declares instead.
	MaxMetadataResponse = 4 << 20
)

// StallError is a registry response that sent no bytes for the stall
// timeout. It is a net.Error whose Timeout is true, so the registry client
// retries it.
type StallError struct {
	URL   string
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s sent nothing for %s (stall timeout): the registry or a proxy hangs; try again, or raise --stall-timeout", e.URL, e.After)
}

// Timeout reports true: a stall is a timeout (net.Error).
func (e *StallError) Timeout() bool { return true }

// Temporary reports true: another attempt may pass (net.Error).
func (e *StallError) Temporary() bool { return true }

// ErrResponseTooLarge is matched by the error of a manifest, index, token
// or error response longer than MaxMetadataResponse.
var ErrResponseTooLarge = errors.New("registry response too large")

// boundedTransport gives every request a stall timer (reset by every byte
// received, stopped when the body is closed) and cuts any response that is
// not a blob at MaxMetadataResponse.
type boundedTransport struct {
	next  http.RoundTripper
	stall time.Duration
}

func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	st := &StallError{URL: req.URL.Redacted(), After: t.stall}
	timer := time.AfterFunc(t.stall, func() { cancel(st) })
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		cause := context.Cause(ctx)
		cancel(nil)
		if isStall(cause) {
			return nil, cause
		}
		return nil, err
	}
	limit := int64(-1)
	if !strings.Contains(req.URL.Path, "/blobs/") {
		limit = MaxMetadataResponse
	}
	resp.Body = &boundedBody{body: resp.Body, ctx: ctx, cancel: cancel, timer: timer, stall: t.stall, limit: limit, url: st.URL}
	return resp, nil
}

func isStall(err error) bool {
	var s *StallError
	return errors.As(err, &s)
}

// boundedBody is a response body under a stall timer and a size limit.
type boundedBody struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	stall  time.Duration
	limit  int64 // -1: none
	read   int64
	url    string
	once   sync.Once
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.limit >= 0 && int64(len(p)) > b.limit-b.read+1 {
		p = p[:b.limit-b.read+1]
	}
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.stall)
		b.read += int64(n)
	}
	if b.limit >= 0 && b.read > b.limit {
		return n, fmt.Errorf("%s: %w: more than %d bytes: the registry serves a broken manifest", b.url, ErrResponseTooLarge, b.limit)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); isStall(cause) {
			err = cause
		}
		return n, &bodyError{err}
	}
	return n, err
}

// bodyError is a response body that broke off or stalled after its headers
// arrived. The registry client retries only whole requests, so the callers
// that read bodies retry these themselves (see client.manifest and
// client.fetchBlob).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// brokenBody reports whether err is a body that broke off or stalled.
func brokenBody(err error) bool {
	var be *bodyError
	return errors.As(err, &be)
}

func (b *boundedBody) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return err
}

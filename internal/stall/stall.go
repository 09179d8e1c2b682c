package stall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Error is a response that sent no bytes for the stall timeout. It is a
// net.Error whose Timeout is true, so retry logic that retries timeouts
// retries it.
type Error struct {
	URL   string
	After time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s sent nothing for %s (stall timeout): the server or a proxy hangs; try again, or raise --stall-timeout", e.URL, e.After)
}

// Timeout reports true: a stall is a timeout (net.Error).
func (e *Error) Timeout() bool { return true }

// Temporary reports true: another attempt may pass (net.Error).
func (e *Error) Temporary() bool { return true }

// BodyError is a response body that broke off or stalled after its headers
// arrived. Clients that retry whole requests do not see it as a request
// failure, so the code reading the body retries it (see IsBrokenBody).
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// IsBrokenBody reports whether err is a body that broke off or stalled.
func IsBrokenBody(err error) bool {
	var be *BodyError
	return errors.As(err, &be)
}

// Transport is an http.RoundTripper that abandons a request once it has
// received nothing for After: its error is then an *Error (from RoundTrip,
// or wrapped in a *BodyError from the body's Read).
type Transport struct {
	// Next sends the requests; nil means http.DefaultTransport.
	Next http.RoundTripper
	// After is the stall timeout; it must be positive.
	After time.Duration
}

// RoundTrip sends req under a stall timer, which the body's Close stops.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	st := &Error{URL: req.URL.Redacted(), After: t.After}
	timer := time.AfterFunc(t.After, func() { cancel(st) })
	resp, err := next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		cause := context.Cause(ctx)
		cancel(nil)
		if isStall(cause) {
			return nil, cause
		}
		return nil, err
	}
	resp.Body = &body{body: resp.Body, ctx: ctx, cancel: cancel, timer: timer, after: t.After}
	return resp, nil
}

func isStall(err error) bool {
	var s *Error
	return errors.As(err, &s)
}

// body is a response body under the stall timer.
type body struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	after  time.Duration
	once   sync.Once
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if n > 0 {
		b.timer.Reset(b.after)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(b.ctx); isStall(cause) {
			err = cause
		}
		return n, &BodyError{err}
	}
	return n, err
}

func (b *body) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return err
}

// Sleep waits d, the pause between two attempts, or until ctx is done,
// and then returns ctx's cause. The registry client and the downloads
// retry through it.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

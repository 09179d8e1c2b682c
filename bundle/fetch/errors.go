package fetch

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNotFound is matched (with errors.Is) by the error of a Get whose source
// does not exist: HTTP 404, 403 or 410, or a missing local file.
var ErrNotFound = errors.New("not found: check the version and source URL")

// StatusError is an HTTP response whose status is not a success; Get wraps
// it with the URL. Errors for 404, 403 and 410 match ErrNotFound.
type StatusError struct {
	URL        string
	StatusCode int
	// RetryAfter is the server's Retry-After header, if any, in its raw form.
	RetryAfter string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.notFound() {
		msg += ": " + ErrNotFound.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) true for missing sources.
func (e *StatusError) Is(target error) bool { return target == ErrNotFound && e.notFound() }

func (e *StatusError) notFound() bool {
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusForbidden, http.StatusGone:
		return true
	}
	return false
}

// retryable reports whether the status may succeed when asked again.
func (e *StatusError) retryable() bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests, e.StatusCode == http.StatusRequestTimeout:
		return true
	case e.StatusCode >= 500:
		return true
	}
	return false
}

// DigestError is content whose sha256 differs from the one the caller
// wanted. Nothing is left in the cache.
type DigestError struct {
	URL       string
	Want, Got string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("fetch %s: sha256 %s does not match the expected sha256 %s: the download is corrupt or the pinned digest is wrong", e.URL, e.Got, e.Want)
}

// SizeError is content whose size differs from the one the caller wanted.
// Nothing is left in the cache.
type SizeError struct {
	URL       string
	Want, Got int64
	// AtLeast is true when the download was cut short at Got+1 bytes because
	// it already exceeded Want.
	AtLeast bool
}

func (e *SizeError) Error() string {
	got := fmt.Sprint(e.Got)
	if e.AtLeast {
		got = "more than " + fmt.Sprint(e.Want)
	}
	return fmt.Sprintf("fetch %s: got %s bytes, expected %d: the download is corrupt or the pinned size is wrong", e.URL, got, e.Want)
}

// TooLargeError is a download with no size known to the caller that went
// past its ceiling (Want.Max, else WithMaxSize), or whose server declared
// more than that. The download stops at the first byte over; nothing is
// left in the cache.
type TooLargeError struct {
	URL string
	// Max is the ceiling in bytes.
	Max int64
	// Declared is the server's Content-Length, or 0 when it sent none.
	Declared int64
	// Fixed is true when the ceiling is the caller's Want.Max, which no
	// option raises.
	Fixed bool
}

func (e *TooLargeError) Error() string {
	if e.Fixed {
		return fmt.Sprintf("fetch %s: more than %d bytes, the most such a file may have: the server sends too much, check the source URL", e.URL, e.Max)
	}
	if e.Declared > e.Max {
		return fmt.Sprintf("fetch %s: the server declares %d bytes, more than the %d allowed for a file of unknown size: pin its sha256 and size, or raise the limit (ferry build --max-download)", e.URL, e.Declared, e.Max)
	}
	return fmt.Sprintf("fetch %s: more than %d bytes with no size declared (no Content-Length): the server sends too much; pin its sha256 and size, or raise the limit (ferry build --max-download)", e.URL, e.Max)
}

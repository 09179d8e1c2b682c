package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Sentinel errors that callers branch on; the errors returned wrap them with
// the image reference and what to do next.
var (
	// ErrNotFound: the registry does not have the tag, digest or
	// repository.
	ErrNotFound = errors.New("not found in registry")
	// ErrUnauthorized: the registry refused the credentials (or their
	// absence).
	ErrUnauthorized = errors.New("registry refused the credentials")
	// ErrUnreachable: the registry could not be reached, even after the
	// retries.
	ErrUnreachable = errors.New("unreachable")
	// ErrPlatform: the image has no manifest for the wanted architecture.
	ErrPlatform = errors.New("no image for this architecture")
)

// registryError turns an error from the registry client into one line that
// names the image and says what to do.
func registryError(ref name.Reference, display string, attempts int, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("image %s: %w", display, err)
	}
	reg := ref.Context().RegistryStr()
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode):
			what := "tag"
			if _, ok := ref.(name.Digest); ok {
				what = "digest"
			}
			return fmt.Errorf("image %s: %s %w: fix images.extra or the chart values", display, what, ErrNotFound)
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden ||
			hasCode(terr, transport.UnauthorizedErrorCode, transport.DeniedErrorCode):
			return fmt.Errorf("image %s: %w (HTTP %d): run 'docker login %s' or fix its entry in the Docker config", display, ErrUnauthorized, terr.StatusCode, reg)
		case terr.StatusCode == http.StatusTooManyRequests || terr.StatusCode >= 500:
			return fmt.Errorf("image %s: registry %s answered HTTP %d after %d attempts (%w): try again later", display, reg, terr.StatusCode, attempts, err)
		}
	}
	if isNetworkError(err) {
		return fmt.Errorf("image %s: registry %s %w after %d attempts (%w): check the network, proxy settings and the registry name", display, reg, ErrUnreachable, attempts, err)
	}
	return fmt.Errorf("image %s: %w", display, err)
}

func hasCode(e *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range e.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}

// isNetworkError reports errors of reaching the registry (as opposed to the
// registry answering with an error).
func isNetworkError(err error) bool {
	var nerr net.Error
	var operr *net.OpError
	var dnserr *net.DNSError
	return errors.As(err, &operr) || errors.As(err, &dnserr) || errors.As(err, &nerr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// retryable is the retry predicate for registry requests: network failures
// that may pass (refused, reset, unreachable, timeouts, a cut connection)
// and errors the transport calls temporary. Answers with a status are
// retried by status code (429, 5xx) in the transport, not here.
func retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.Temporary()
	}
	var dnserr *net.DNSError
	if errors.As(err, &dnserr) {
		return dnserr.IsTemporary || dnserr.IsTimeout
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

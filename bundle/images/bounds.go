package images

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/internal/stall"
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

// ErrResponseTooLarge is matched by the error of a manifest, index, token
// or error response longer than MaxMetadataResponse.
var ErrResponseTooLarge = errors.New("registry response too large")

// boundedTransport gives every request a stall timer (stall.Transport)
// and cuts any response that is not a blob at MaxMetadataResponse.
type boundedTransport struct {
	next  http.RoundTripper
	stall time.Duration
}

func (t *boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := (&stall.Transport{Next: t.next, After: t.stall}).RoundTrip(req)
	if err != nil || strings.Contains(req.URL.Path, "/blobs/") {
		return resp, err
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, limit: MaxMetadataResponse, url: req.URL.Redacted()}
	return resp, nil
}

// cappedBody fails once more than limit bytes have been read.
type cappedBody struct {
	io.ReadCloser
	limit, read int64
	url         string
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.limit-b.read+1 {
		p = p[:b.limit-b.read+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if b.read > b.limit {
		return n, fmt.Errorf("%s: %w: more than %d bytes: the registry serves a broken manifest", b.url, ErrResponseTooLarge, b.limit)
	}
	return n, err
}

// brokenBody reports whether err is a body that broke off or stalled
// after its headers: the registry client retries only whole requests, so
// client.manifest and client.fetchBlob retry these themselves.
func brokenBody(err error) bool { return stall.IsBrokenBody(err) }

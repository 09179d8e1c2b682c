package images

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// hostile is a registry misbehaviour, switched on after the fixture is
// pushed.
type hostile int

const (
	honest hostile = iota
	blobEndless
	blobLyingLength
	blobStallAfterHeaders
	manifestEndless
	manifestStallAfterHeaders
	manifestNoHeaders
)

// hostileRegistry wraps the test registry: in each mode, requests of one
// kind misbehave; it counts the body bytes it managed to send.
type hostileRegistry struct {
	mode atomic.Int32
	sent atomic.Int64
	hits atomic.Int32
}

// maxHostileBody bounds what a hostile handler sends, so that a client that
// does not stop cannot run the test for ever (the test then fails on the
// byte count).
const maxHostileBody = 1 << 30

func (h *hostileRegistry) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := hostile(h.mode.Load())
		isBlob := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/")
		isManifest := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
		switch {
		case isBlob && (mode == blobEndless || mode == blobLyingLength):
			h.hits.Add(1)
			if mode == blobLyingLength {
				w.Header().Set("Content-Length", "4800000000") // the 4.8 GB
			}
			rec := &bodyRecorder{header: http.Header{}}
			next.ServeHTTP(rec, r) // the real blob first, then more
			w.WriteHeader(http.StatusOK)
			h.endless(w, rec.body.Bytes())
		case isManifest && mode == manifestEndless:
			h.hits.Add(1)
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.WriteHeader(http.StatusOK)
			h.endless(w, []byte(`{"schemaVersion":2,"manifests":[`))
		case isBlob && mode == blobStallAfterHeaders, isManifest && mode == manifestStallAfterHeaders:
			h.hits.Add(1)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			h.hang(r)
		case (isManifest || r.Method == http.MethodHead) && mode == manifestNoHeaders:
			h.hits.Add(1)
			h.hang(r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// endless writes head, then filler, until the client goes away or
// maxHostileBody is reached.
func (h *hostileRegistry) endless(w http.ResponseWriter, head []byte) {
	fill := bytes.Repeat([]byte{'{'}, 64<<10)
	chunk := head
	for h.sent.Load() < maxHostileBody {
		n, err := w.Write(chunk)
		h.sent.Add(int64(n))
		if err != nil {
			return
		}
		w.(http.Flusher).Flush()
		chunk = fill
	}
}

// hang holds the request open until the client gives up (or 30 s pass).
func (h *hostileRegistry) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// bodyRecorder captures what the real registry would answer.
type bodyRecorder struct {
	header http.Header
	body   bytes.Buffer
}

func (b *bodyRecorder) Header() http.Header         { return b.header }
func (b *bodyRecorder) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bodyRecorder) WriteHeader(int)             {}

// TestHostileRegistry pulls from a registry that sends too much or nothing
// at all: each pull ends within its bound (a blob at its descriptor's size,
// a manifest at MaxMetadataResponse, a stall after the stall timeout and
// the retries) with a one-line error naming the image and what to do.
func TestHostileRegistry(t *testing.T) {
	const stall = 300 * time.Millisecond
	tests := []struct {
		name    string
		mode    hostile
		resolve bool // the failure comes at Resolve, not WriteArchive
		want    []string
		hits    int32 // requests the hostile handler answered; 0: any
	}{
		{name: "blob longer than its descriptor, no Content-Length", mode: blobEndless,
			want: []string{"image 127.0.0.1", "more than the", "bytes the manifest declares", "the registry serves a broken image"}, hits: 1},
		{name: "blob with a 4.8 GB Content-Length for a small layer", mode: blobLyingLength,
			want: []string{"image 127.0.0.1", "more than the", "bytes the manifest declares"}, hits: 1},
		{name: "blob stalls after its headers", mode: blobStallAfterHeaders,
			want: []string{"image 127.0.0.1", "stall timeout", "after 3 attempts", "raise --stall-timeout"}, hits: 3},
		{name: "endless manifest", mode: manifestEndless, resolve: true,
			want: []string{"image 127.0.0.1", "registry response too large", "more than 4194304 bytes"}},
		{name: "manifest stalls after its headers", mode: manifestStallAfterHeaders, resolve: true,
			want: []string{"image 127.0.0.1", "stall timeout", "after 3 attempts"}, hits: 3},
		{name: "manifest request never answered", mode: manifestNoHeaders, resolve: true,
			want: []string{"image 127.0.0.1", "stall timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &hostileRegistry{}
			reg := newTestRegistry(t, h.wrap)
			layer := layerOf(t, map[string]string{"bin/app": strings.Repeat("app ", 300)})
			pushImage(t, reg.ref("single:1"), imageOf(t, v1.Platform{OS: "linux", Architecture: "amd64"}, layer))
			opts := fastOpts(WithStallTimeout(stall), WithCacheDir(t.TempDir()))
			ctx := context.Background()
			var res []Resolved
			if !tt.resolve {
				var err error
				if res, err = Resolve(ctx, []string{reg.ref("single:1")}, "amd64", opts...); err != nil {
					t.Fatal(err)
				}
			}
			h.mode.Store(int32(tt.mode))
			start := time.Now()
			var err error
			if tt.resolve {
				_, err = Resolve(ctx, []string{reg.ref("single:1")}, "amd64", opts...)
			} else {
				_, err = WriteArchive(ctx, io.Discard, res, opts...)
			}
			took := time.Since(start)
			if err == nil {
				t.Fatal("pull from a hostile registry succeeded")
			}
			msg := err.Error()
			t.Logf("%s after %s, %d bytes sent: %s", tt.name, took.Round(time.Millisecond), h.sent.Load(), msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("ended by a deadline, not by the bound: %v", err)
			}
			// The client stops reading at the bound; what the server got
			// into socket buffers before noticing is small.
			if sent := h.sent.Load(); sent > 64<<20 {
				t.Errorf("the hostile registry sent %d bytes before the client stopped", sent)
			}
			if tt.hits > 0 && h.hits.Load() != tt.hits {
				t.Errorf("hostile handler answered %d requests, want %d (bounded retries)", h.hits.Load(), tt.hits)
			}
		})
	}
}

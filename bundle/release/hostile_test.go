package release_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/bundle/release"
	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

// maxHostileBody bounds what the hostile server sends, so that a client
// that never stops still ends the test (which then fails on the count).
const maxHostileBody = 1 << 30

// TestHostileReleaseServer fetches a release from a server that sends an
// asset or the checksum list with no Content-Length and no end, or sends
// headers and then nothing: each Fetch ends at its bound (the fetch
// client's WithMaxSize, MaxChecksumList, or the stall timeout after the
// retries) with a one-line error naming the asset and the fix.
func TestHostileReleaseServer(t *testing.T) {
	const ceiling = 8 << 20
	tests := []struct {
		name   string
		target string // the asset that misbehaves
		stall  bool   // headers, then nothing; else an endless body
		want   []string
		hits   int32
	}{
		{name: "endless binary without Content-Length", target: "k3s",
			want: []string{"k3s v1.31.4+k3s1 amd64: asset k3s:", "more than 8388608 bytes with no size declared", "--max-download"}, hits: 1},
		{name: "endless checksum list", target: "sha256sum-amd64.txt",
			want: []string{"k3s v1.31.4+k3s1 amd64:", "sha256sum-amd64.txt: more than 1048576 bytes", "check the source URL"}, hits: 1},
		{name: "airgap tarball stalls after headers", target: "k3s-airgap-images-amd64.tar.zst", stall: true,
			want: []string{"asset k3s-airgap-images-amd64.tar.zst", "giving up after 3 attempts", "no data received within the stall timeout", "--stall-timeout"}, hits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := releasetest.Write(t.TempDir(), version, []string{"amd64"}, releasetest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			files := releasetest.Handler(tree.Dir)
			var sent atomic.Int64
			var hits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/"+tt.target) {
					files.ServeHTTP(w, r)
					return
				}
				hits.Add(1)
				w.WriteHeader(http.StatusOK) // no Content-Length: chunked
				w.(http.Flusher).Flush()
				if tt.stall {
					select {
					case <-r.Context().Done():
					case <-time.After(30 * time.Second):
					}
					return
				}
				fill := bytes.Repeat([]byte("0123456789abcdef"), 4096)
				for sent.Load() < maxHostileBody {
					n, err := w.Write(fill)
					sent.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			t.Cleanup(srv.Close)
			c, err := fetch.New(fetch.WithCacheDir(t.TempDir()), fetch.WithMaxSize(ceiling), fetch.WithRetries(2),
				fetch.WithBackoff(10*time.Millisecond, 40*time.Millisecond), fetch.WithStallTimeout(300*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = release.Fetch(context.Background(), c, release.Source{BaseURL: srv.URL, Version: version, Arch: "amd64"})
			if err == nil {
				t.Fatal("Fetch from a hostile server succeeded")
			}
			msg := err.Error()
			t.Logf("after %s, %d bytes sent: %s", time.Since(start).Round(time.Millisecond), sent.Load(), msg)
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
			if got := sent.Load(); got > ceiling+32<<20 {
				t.Errorf("the server sent %d bytes, far past the %d-byte ceiling", got, ceiling)
			}
			if hits.Load() != tt.hits {
				t.Errorf("hostile asset requested %d times, want %d (bounded retries)", hits.Load(), tt.hits)
			}
		})
	}
}

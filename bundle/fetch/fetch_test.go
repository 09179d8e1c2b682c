package fetch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/fetch"
)

// content returns n deterministic bytes and their sha256.
func content(n int) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// server is an httptest server whose i-th request (from 0) is answered by
// step(i, w, r); it records every request.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func newServer(t *testing.T, step func(i int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i := len(s.reqs)
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.mu.Unlock()
		step(i, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *server) request(i int) *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[i]
}

// serve answers with body, honouring Range like a real file server.
func serve(body []byte) func(int, http.ResponseWriter, *http.Request) {
	return func(_ int, w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "blob", time.Unix(1700000000, 0), bytes.NewReader(body))
	}
}

// cutHalf sends the headers of the full body and half of it, then drops the
// connection.
func cutHalf(t *testing.T, w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	w.Header().Set("Last-Modified", time.Unix(1700000000, 0).UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

func newClient(t *testing.T, opts ...fetch.Option) *fetch.Client {
	t.Helper()
	opts = append([]fetch.Option{fetch.WithCacheDir(t.TempDir()), fetch.WithBackoff(5*time.Millisecond, 20*time.Millisecond)}, opts...)
	c, err := fetch.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leftovers lists files under the cache's tmp/ directory.
func leftovers(t *testing.T, c *fetch.Client) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(filepath.Join(c.CacheDir(), "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func checkFile(t *testing.T, f *fetch.File, body []byte, digest string) {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) || f.SHA256 != digest || f.Size != int64(len(body)) {
		t.Fatalf("file %s: %d bytes, sha256 %s; want %d bytes, sha256 %s", f.Path, len(got), f.SHA256, len(body), digest)
	}
	if filepath.Base(f.Path) != digest || filepath.Base(filepath.Dir(f.Path)) != "sha256" {
		t.Fatalf("blob path %s is not blobs/sha256/<digest>", f.Path)
	}
}

func TestCacheHitMakesNoRequest(t *testing.T) {
	body, digest := content(100 << 10)
	tests := []struct {
		name         string
		want         fetch.Want
		secondReqs   int // requests made by the second Get
		secondCached bool
	}{
		{"known digest", fetch.Want{SHA256: digest}, 0, true},
		{"known digest with prefix and size", fetch.Want{SHA256: "sha256:" + strings.ToUpper(digest), Size: int64(len(body))}, 0, true},
		{"immutable URL", fetch.Want{Immutable: true}, 0, true},
		{"mutable URL without digest", fetch.Want{}, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, serve(body))
			c := newClient(t)
			ctx := context.Background()
			f, err := c.Get(ctx, srv.URL+"/k3s", tt.want)
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, f, body, digest)
			if f.FromCache || srv.count() != 1 {
				t.Fatalf("first Get: FromCache=%v after %d requests; want a download", f.FromCache, srv.count())
			}
			f2, err := c.Get(ctx, srv.URL+"/k3s", tt.want)
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, f2, body, digest)
			if got := srv.count() - 1; got != tt.secondReqs || f2.FromCache != tt.secondCached {
				t.Fatalf("second Get: %d requests, FromCache=%v; want %d, %v", got, f2.FromCache, tt.secondReqs, tt.secondCached)
			}
			st := c.Stats()
			if st.Requests != int64(srv.count()) || st.BytesDownloaded != int64(len(body)*srv.count()) {
				t.Fatalf("stats %+v disagree with the server's %d requests", st, srv.count())
			}
		})
	}
}

func TestImmutableIndexSurvivesNewClient(t *testing.T) {
	body, digest := content(4096)
	srv := newServer(t, serve(body))
	dir := t.TempDir()
	for i := range 2 {
		c, err := fetch.New(fetch.WithCacheDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.Get(context.Background(), srv.URL+"/sha256sum-amd64.txt", fetch.Want{Immutable: true})
		if err != nil {
			t.Fatal(err)
		}
		checkFile(t, f, body, digest)
		if f.FromCache != (i == 1) {
			t.Fatalf("Get %d: FromCache=%v", i, f.FromCache)
		}
	}
	if srv.count() != 1 {
		t.Fatalf("server saw %d requests, want 1", srv.count())
	}
}

func TestLocalSources(t *testing.T) {
	body, digest := content(3000)
	dir := t.TempDir()
	p := filepath.Join(dir, "v1.31.4+k3s1", "k3s")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		want     fetch.Want
		notFound bool
		wantErr  string
	}{
		{"file URL", "file://" + p, fetch.Want{SHA256: digest}, false, ""},
		{"file URL with localhost", "file://localhost" + p, fetch.Want{}, false, ""},
		{"bare path", p, fetch.Want{Immutable: true}, false, ""},
		{"missing file", "file://" + filepath.Join(dir, "nope"), fetch.Want{}, true, "not found: check the version and source URL"},
		{"directory", dir, fetch.Want{}, false, "not a regular file"},
		{"remote host", "file://example.com/x", fetch.Want{}, false, "write file:///absolute/path"},
		{"bad scheme", "ftp://127.0.0.1/x", fetch.Want{}, false, "unsupported scheme"},
		{"bad digest", p, fetch.Want{SHA256: "abc"}, false, "not 64 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t)
			f, err := c.Get(context.Background(), tt.url, tt.want)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				if errors.Is(err, fetch.ErrNotFound) != tt.notFound {
					t.Fatalf("errors.Is(%v, ErrNotFound) != %v", err, tt.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, f, body, digest)
			if st := c.Stats(); st.Requests != 0 || st.BytesCopied != int64(len(body)) {
				t.Fatalf("stats %+v; want no requests and %d bytes copied", st, len(body))
			}
		})
	}
}

func TestProgressNeverBlocks(t *testing.T) {
	body, digest := content(1 << 20)
	srv := newServer(t, serve(body))
	tests := []struct {
		name string
		buf  int
	}{{"unbuffered and unread", 0}, {"buffered", 1024}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := make(chan fetch.Progress, tt.buf)
			c := newClient(t, fetch.WithProgress(ch))
			if _, err := c.Get(context.Background(), srv.URL+"/x", fetch.Want{SHA256: digest}); err != nil {
				t.Fatal(err)
			}
			if tt.buf == 0 {
				return // reaching here is the assertion: nothing blocked
			}
			close(ch)
			var last fetch.Progress
			for p := range ch {
				if p.URL != srv.URL+"/x" || p.Done > p.Total && p.Total > 0 {
					t.Fatalf("bad event %+v", p)
				}
				last = p
			}
			if last.Done != int64(len(body)) || last.Total != int64(len(body)) {
				t.Fatalf("last event %+v; want Done == Total == %d", last, len(body))
			}
		})
	}
}

func TestOptionsRejectBadInput(t *testing.T) {
	tests := []struct {
		name string
		opt  fetch.Option
		want string
	}{
		{"empty cache dir", fetch.WithCacheDir(""), "WithCacheDir"},
		{"negative retries", fetch.WithRetries(-1), "WithRetries(-1)"},
		{"backoff max below initial", fetch.WithBackoff(time.Second, time.Millisecond), "WithBackoff"},
		{"zero stall timeout", fetch.WithStallTimeout(0), "WithStallTimeout"},
		{"nil transport", fetch.WithTransport(nil), "WithTransport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fetch.New(fetch.WithCacheDir(t.TempDir()), tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one naming %s", err, tt.want)
			}
		})
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/var/cache/x")
	if d, err := fetch.DefaultCacheDir(); err != nil || d != "/var/cache/x/ferry" {
		t.Fatalf("DefaultCacheDir() = %q, %v", d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, err := fetch.DefaultCacheDir(); err != nil || d != "/home/u/.cache/ferry" {
		t.Fatalf("DefaultCacheDir() = %q, %v", d, err)
	}
}

func TestConcurrentGetsOfOneURL(t *testing.T) {
	body, digest := content(256 << 10)
	srv := newServer(t, serve(body))
	c := newClient(t)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			f, err := c.Get(context.Background(), srv.URL+"/k3s", fetch.Want{Immutable: true})
			if err == nil && f.SHA256 != digest {
				err = fmt.Errorf("got sha256 %s, want %s", f.SHA256, digest)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	blobs, _ := os.ReadDir(filepath.Join(c.CacheDir(), "blobs", "sha256"))
	if len(blobs) != 1 || len(leftovers(t, c)) != 0 {
		t.Fatalf("cache holds %d blobs and temp files %v; want 1 blob, no temp files", len(blobs), leftovers(t, c))
	}
	if srv.count() != 1 || c.Stats().CacheHits != n-1 {
		t.Fatalf("%d concurrent Gets made %d requests and %d cache hits; want 1 request", n, srv.count(), c.Stats().CacheHits)
	}
}

func TestWaitingGetHonoursContext(t *testing.T) {
	body, _ := content(1 << 20)
	release := make(chan struct{})
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	c := newClient(t)
	leaderCtx, stopLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := c.Get(leaderCtx, srv.URL+"/k3s", fetch.Want{Immutable: true})
		leaderDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Get(ctx, srv.URL+"/k3s", fetch.Want{Immutable: true})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("waiting Get returned %v after %s; want a prompt deadline error", err, time.Since(start))
	}
	stopLeader()
	close(release)
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader returned %v, want context.Canceled", err)
	}
	if srv.count() != 1 {
		t.Fatalf("the waiting Get sent a request of its own (%d in all)", srv.count())
	}
}

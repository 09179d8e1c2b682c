package fetch_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/fetch"
)

func TestResume(t *testing.T) {
	body, digest := content(1 << 20)
	tests := []struct {
		name      string
		honour    bool // server answers Range with 206
		wantRange bool
	}{
		{"server supports Range", true, true},
		{"server ignores Range", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
				switch {
				case i == 0:
					cutHalf(t, w, body)
				case tt.honour:
					serve(body)(i, w, r)
				default:
					w.Write(body)
				}
			})
			c := newClient(t)
			f, err := c.Get(context.Background(), srv.URL+"/airgap.tar.zst", fetch.Want{SHA256: digest})
			if err != nil {
				t.Fatal(err)
			}
			checkFile(t, f, body, digest)
			if srv.count() != 2 {
				t.Fatalf("%d requests, want 2", srv.count())
			}
			rng := srv.request(1).Header.Get("Range")
			if want := fmt.Sprintf("bytes=%d-", len(body)/2); rng != want {
				t.Fatalf("second request Range %q, want %q", rng, want)
			}
			if srv.request(1).Header.Get("If-Range") == "" {
				t.Fatal("second request carried no If-Range validator")
			}
			if st := c.Stats(); st.Retries != 1 {
				t.Fatalf("stats %+v: want 1 retry", st)
			}
			if l := leftovers(t, c); len(l) != 0 {
				t.Fatalf("temp files left: %v", l)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	body, digest := content(1000)
	tests := []struct {
		name     string
		status   []int // statuses before success; 0 = success
		retries  int
		wantReqs int
		wantErr  string
		notFound bool
	}{
		{"500 then success", []int{500}, 4, 2, "", false},
		{"429 and 503 then success", []int{429, 503}, 4, 3, "", false},
		{"500 beyond the retry budget", []int{500, 500, 500}, 2, 3, "giving up after 3 attempts: HTTP 500", false},
		{"404 is not retried", []int{404}, 4, 1, "HTTP 404 Not Found: not found: check the version and source URL", true},
		{"403 is not retried", []int{403}, 4, 1, "not found: check the version and source URL", true},
		{"400 is not retried", []int{400}, 4, 1, "HTTP 400 Bad Request", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
				if i < len(tt.status) {
					http.Error(w, "no", tt.status[i])
					return
				}
				w.Write(body)
			})
			c := newClient(t, fetch.WithRetries(tt.retries))
			url := srv.URL + "/v1.31.4%2Bk3s1/k3s"
			f, err := c.Get(context.Background(), url, fetch.Want{SHA256: digest})
			if srv.count() != tt.wantReqs {
				t.Errorf("%d requests, want %d", srv.count(), tt.wantReqs)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkFile(t, f, body, digest)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), url) {
				t.Fatalf("error %v; want one naming %s and %q", err, url, tt.wantErr)
			}
			if errors.Is(err, fetch.ErrNotFound) != tt.notFound {
				t.Fatalf("errors.Is(%v, ErrNotFound) = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if l := leftovers(t, c); len(l) != 0 {
				t.Fatalf("temp files left: %v", l)
			}
		})
	}
}

func TestClosedPortGivesUpInBoundedTime(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, fetch.WithRetries(2), fetch.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	start := time.Now()
	_, err = c.Get(context.Background(), "http://"+addr+"/k3s", fetch.Want{})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("took %s, want a few seconds at most", elapsed)
	}
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("error %v; want giving up after 3 attempts", err)
	}
	if st := c.Stats(); st.Requests != 3 || st.Retries != 2 {
		t.Fatalf("stats %+v; want 3 requests, 2 retries", st)
	}
}

func TestWrongContentLeavesNothing(t *testing.T) {
	body, digest := content(5000)
	_, other := content(10)
	tests := []struct {
		name    string
		want    fetch.Want
		wantErr string
	}{
		{"digest mismatch", fetch.Want{SHA256: other}, "sha256 " + digest + " does not match the expected sha256 " + other + ": the download is corrupt or the pinned digest is wrong"},
		{"size larger than announced", fetch.Want{Size: 10}, "got 5000 bytes, expected 10"},
		{"size smaller than pinned", fetch.Want{Size: 9000, SHA256: digest}, "got 5000 bytes, expected 9000"},
	}
	for _, tt := range tests {
		for _, scheme := range []string{"http", "file"} {
			t.Run(tt.name+"/"+scheme, func(t *testing.T) {
				var url string
				if scheme == "http" {
					srv := newServer(t, serve(body))
					url = srv.URL + "/k3s"
				} else {
					p := filepath.Join(t.TempDir(), "k3s")
					if err := os.WriteFile(p, body, 0o644); err != nil {
						t.Fatal(err)
					}
					url = "file://" + p
				}
				c := newClient(t)
				_, err := c.Get(context.Background(), url, tt.want)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), url) {
					t.Fatalf("error %v; want one naming %s and saying %q", err, url, tt.wantErr)
				}
				blobs, _ := os.ReadDir(filepath.Join(c.CacheDir(), "blobs", "sha256"))
				if len(blobs) != 0 || len(leftovers(t, c)) != 0 {
					t.Fatalf("cache holds %d blobs and temp files %v after a bad download", len(blobs), leftovers(t, c))
				}
			})
		}
	}
}

func TestCancelRemovesTempFiles(t *testing.T) {
	body, digest := content(2 << 20)
	release := make(chan struct{})
	srv := newServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select { // hold the body open until the client gives up, boundedly
		case <-r.Context().Done():
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	defer close(release)
	progress := make(chan fetch.Progress, 64)
	c := newClient(t, fetch.WithProgress(progress))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case p := <-progress:
				if p.Done > 0 {
					cancel()
					return
				}
			case <-deadline:
				cancel()
				return
			}
		}
	}()
	start := time.Now()
	_, err := c.Get(ctx, srv.URL+"/k3s", fetch.Want{SHA256: digest})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want context.Canceled", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("cancellation took %s", time.Since(start))
	}
	if l := leftovers(t, c); len(l) != 0 {
		t.Fatalf("temp files left after cancellation: %v", l)
	}
}

func TestStalledResponseIsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a stall timeout; skipped under -short")
	}
	body, digest := content(64 << 10)
	srv := newServer(t, func(i int, w http.ResponseWriter, r *http.Request) {
		if i > 0 {
			serve(body)(i, w, r)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Header().Set("ETag", `"blob"`)
		w.Write(body[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	c := newClient(t, fetch.WithStallTimeout(200*time.Millisecond))
	f, err := c.Get(context.Background(), srv.URL+"/k3s", fetch.Want{SHA256: digest})
	if err != nil {
		t.Fatal(err)
	}
	checkFile(t, f, body, digest)
	if rng := srv.request(1).Header.Get("Range"); rng != "bytes=1000-" {
		t.Fatalf("retry Range %q, want bytes=1000-", rng)
	}
}

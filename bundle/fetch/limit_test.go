package fetch_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle/fetch"
)

// TestSizeCeiling checks the ceiling of downloads whose size the caller
// does not know: a server that declares or sends more fails with a
// *TooLargeError, not retried, nothing cached; one within it passes.
func TestSizeCeiling(t *testing.T) {
	const ceiling = 1 << 20
	body, _ := content(ceiling + 1)
	tests := []struct {
		name     string
		length   string // Content-Length sent; "" for none
		send     int    // body bytes sent
		want     fetch.Want
		wantErr  []string
		wantSize int64
	}{
		{name: "no Content-Length, over the ceiling", send: ceiling + 1,
			wantErr: []string{"more than 1048576 bytes with no size declared", "--max-download"}},
		{name: "Content-Length over the ceiling", length: strconv.Itoa(ceiling + 1), send: ceiling + 1,
			wantErr: []string{"the server declares 1048577 bytes, more than the 1048576 allowed"}},
		{name: "Want.Max below the ceiling", send: 4097, want: fetch.Want{Max: 4096},
			wantErr: []string{"more than 4096 bytes, the most such a file may have", "check the source URL"}},
		{name: "at the ceiling", send: ceiling, wantSize: ceiling},
		{name: "a declared Size beyond the ceiling is the caller's", length: strconv.Itoa(ceiling + 1), send: ceiling + 1,
			want: fetch.Want{Size: ceiling + 1}, wantSize: ceiling + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				w.WriteHeader(http.StatusOK)
				w.Write(body[:tt.send])
			})
			dir := t.TempDir()
			c := newClient(t, fetch.WithCacheDir(dir), fetch.WithMaxSize(ceiling), fetch.WithRetries(2))
			f, err := c.Get(context.Background(), srv.URL+"/asset", tt.want)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if f.Size != tt.wantSize {
					t.Fatalf("size %d, want %d", f.Size, tt.wantSize)
				}
				return
			}
			var tl *fetch.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("error %v, want a *TooLargeError", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if n := srv.count(); n != 1 {
				t.Errorf("%d requests, want 1: a download over its ceiling is not retried", n)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
				t.Errorf("left %d temp files", len(left))
			}
		})
	}
}

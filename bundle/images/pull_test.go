package images

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestWriteArchiveDownloadFailure: the archive is written while blobs
// download; a layer that cannot be downloaded fails it with that layer's
// error (not the cancellations it causes), and a cancelled context with
// context.Canceled.
func TestWriteArchiveDownloadFailure(t *testing.T) {
	layers := []v1.Layer{
		layerOf(t, map[string]string{"a": strings.Repeat("a", 4096)}),
		layerOf(t, map[string]string{"b": strings.Repeat("b", 4096)}),
		layerOf(t, map[string]string{"c": strings.Repeat("c", 4096)}),
	}
	img := imageOf(t, v1.Platform{OS: "linux", Architecture: "amd64"}, layers...)
	d, err := layers[1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		broken  string
		cancel  bool
		wantErr string
	}{
		{"missing layer", "/blobs/" + d.String(), false, "not found"},
		{"cancelled", "", true, context.Canceled.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The registry serves everything until the image is resolved,
			// then refuses the broken layer.
			var resolved atomic.Bool
			reg := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if tt.broken != "" && resolved.Load() && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, tt.broken) {
						http.Error(w, "gone", http.StatusNotFound)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			pushImage(t, reg.ref("app:1"), img)
			cache := t.TempDir()
			res, err := Resolve(context.Background(), []string{reg.ref("app:1")}, "amd64", fastOpts(WithCacheDir(cache))...)
			if err != nil {
				t.Fatal(err)
			}
			resolved.Store(true)
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			_, err = WriteArchive(ctx, io.Discard, res, fastOpts(WithCacheDir(cache), WithRetries(0))...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
			}
			if !tt.cancel && errors.Is(err, context.Canceled) {
				t.Errorf("err = %v: the download failure, not a cancellation, should be reported", err)
			}
		})
	}
}

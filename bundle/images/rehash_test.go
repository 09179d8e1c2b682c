package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestWithoutCacheRehash damages a cached blob in place (same size): the
// default re-hash refuses it, WithoutCacheRehash copies it as it is (its
// caller checks the archive's digest instead).
func TestWithoutCacheRehash(t *testing.T) {
	f := newFixture(t)
	cache := t.TempDir()
	ctx := context.Background()
	refs := []string{f.reg.ref("app:1@" + digestOf(t, f.idx["app:1"]))}
	res, err := Resolve(ctx, refs, "arm64", fastOpts(WithCacheDir(cache))...)
	if err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := WriteArchive(ctx, &good, res, fastOpts(WithCacheDir(cache))...); err != nil {
		t.Fatal(err)
	}
	layer := filepath.Join(cache, filepath.FromSlash(firstLayer(t, good.Bytes())))
	raw, err := os.ReadFile(layer)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := os.WriteFile(layer, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    []Option
		wantErr string
	}{
		{"default re-hashes and refuses", nil, "is damaged"},
		{"without re-hash copies as is", []Option{WithoutCacheRehash()}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := WriteArchive(ctx, &buf, res, fastOpts(append(tt.opts, WithCacheDir(cache))...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if buf.Len() != good.Len() || bytes.Equal(buf.Bytes(), good.Bytes()) {
				t.Errorf("archive of %d bytes (good %d), equal to the good one: %v; want same size, other bytes", buf.Len(), good.Len(), bytes.Equal(buf.Bytes(), good.Bytes()))
			}
		})
	}
}

// firstLayer returns the archive path (blobs/sha256/HEX) of the first
// layer manifest.json lists.
func firstLayer(t *testing.T, archive []byte) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no manifest.json in the archive: %v", err)
		}
		if hdr.Name != "manifest.json" {
			continue
		}
		var dm []dockerManifest
		b, _ := io.ReadAll(tr)
		if err := json.Unmarshal(b, &dm); err != nil || len(dm) == 0 || len(dm[0].Layers) == 0 {
			t.Fatalf("manifest.json %s: %v", b, err)
		}
		return dm[0].Layers[0]
	}
}

// TestTamperedDownloadIsRefused: a registry that alters blob bytes (same
// length) fails the archive, and nothing it served lands in the cache,
// though the store no longer hashes downloads itself (the blob reader
// does).
func TestTamperedDownloadIsRefused(t *testing.T) {
	reg := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 0 {
				body[len(body)-1] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	})
	img := imageOf(t, v1.Platform{OS: "linux", Architecture: "amd64"}, layerOf(t, map[string]string{"bin/app": "app\n"}))
	pushImage(t, reg.ref("app:1"), img)
	cache := t.TempDir()
	ctx := context.Background()
	// Resolve reads the config blob, WriteArchive the layers: either may
	// be the one that notices.
	res, err := Resolve(ctx, []string{reg.ref("app:1")}, "amd64", fastOpts(WithCacheDir(cache))...)
	if err == nil {
		_, err = WriteArchive(ctx, io.Discard, res, fastOpts(WithCacheDir(cache))...)
	}
	if err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("err = %v, want a digest mismatch from a registry that alters blobs", err)
	}
	blobs, _ := filepath.Glob(filepath.Join(cache, "blobs", "sha256", "*"))
	for _, b := range blobs {
		raw, err := os.ReadFile(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Digest(raw); got != "sha256:"+filepath.Base(b) {
			t.Errorf("cache holds %s with content of digest %s", b, got)
		}
	}
}

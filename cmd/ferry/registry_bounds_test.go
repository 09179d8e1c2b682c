package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

// Misbehaviours of hostileRegistry, for the image's layer blob.
const (
	layerHonest int32 = iota
	layerEndless
	layerStall
)

// hostileRegistry is go-containerregistry's registry on loopback holding
// one image, whose layer blob misbehaves as mode says.
type hostileRegistry struct {
	ref   string // the image, host:port/hostile/app:1
	layer string // its layer digest
	mode  atomic.Int32
	sent  atomic.Int64
}

// maxHostileBody bounds an endless body, so that a client that never stops
// still ends the test (which then fails on the byte count).
const maxHostileBody = 1 << 30

func newHostileRegistry(t *testing.T) *hostileRegistry {
	t.Helper()
	h := &hostileRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := h.mode.Load()
		if mode == layerHonest || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+h.layer) {
			reg.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusOK) // no Content-Length
		w.(http.Flusher).Flush()
		if mode == layerStall {
			select {
			case <-r.Context().Done():
			case <-time.After(60 * time.Second):
			}
			return
		}
		fill := bytes.Repeat([]byte{0x1f}, 64<<10)
		for h.sent.Load() < maxHostileBody {
			n, err := w.Write(fill)
			h.sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	h.ref = strings.TrimPrefix(srv.URL, "http://") + "/hostile/app:1"
	img, err := random.Image(1200, 1) // the 1,200-byte layer
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	h.layer = d.String()
	ref, err := name.ParseReference(h.ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return h
}

// imageSpec writes a spec carrying one extra image and a k3s release
// mirror on disk.
func imageSpec(t *testing.T, image string) string {
	t.Helper()
	dir := t.TempDir()
	tree, err := releasetest.Write(filepath.Join(dir, "mirror"), "v1.31.4+k3s1", []string{"amd64"}, releasetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: hostile, version: 0.1.0}
k3s: {version: v1.31.4+k3s1, source: "file://%s"}
images: {extra: ["%s"]}
`, tree.Dir, image)
	p := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testHostileRegistry runs a real `ferry build` against a registry whose
// layer blob is endless or stalls: each build ends at its bound with a
// one-line error naming the image, or within signalBound of SIGTERM, and
// leaves no bundle. Peak RSS is logged.
func testHostileRegistry(t *testing.T, bin string) {
	tests := []struct {
		name   string
		mode   int32
		args   []string
		signal bool
		want   []string
	}{
		{name: "endless layer", mode: layerEndless,
			want: []string{"/hostile/app:1", "bytes the manifest declares", "the registry serves a broken image"}},
		{name: "layer stalls after its headers", mode: layerStall, args: []string{"--stall-timeout", "1s"},
			want: []string{"/hostile/app:1", "stall timeout", "after 4 attempts", "--stall-timeout"}},
		{name: "SIGTERM while the layer stalls", mode: layerStall, signal: true,
			want: []string{"image archive for amd64", "terminated signal received"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHostileRegistry(t)
			h.mode.Store(tt.mode)
			r := startBuild(t, bin, imageSpec(t, h.ref), append(tt.args, "-q")...)
			done := make(chan error, 1)
			go func() { done <- r.cmd.Wait() }()
			start := time.Now()
			bound := 2 * time.Minute // ends by itself; not a timing assertion
			if tt.signal {
				time.Sleep(2 * time.Second) // the layer download has begun and hangs
				start = time.Now()
				if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				bound = signalBound
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(bound):
				t.Fatalf("ferry build still runs after %s; stderr:\n%s", bound, r.stderr.String())
			}
			msg := errorLine(r.stderr.String())
			t.Logf("after %s, %d bytes sent, peak RSS %.1f MiB: %s", time.Since(start).Round(time.Millisecond), h.sent.Load(), r.peakRSS(), msg)
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if sent := h.sent.Load(); sent > 64<<20 {
				t.Errorf("the registry sent %d bytes before the build stopped reading", sent)
			}
			noBundle(t, r.out)
		})
	}
}

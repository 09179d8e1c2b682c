package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// testRegistry is go-containerregistry's in-memory registry on loopback,
// counting the requests it serves.
type testRegistry struct {
	host string
	srv  *httptest.Server
	mu   sync.Mutex
	hits map[string]int // "GET manifest", "HEAD manifest", "GET blob", ...
}

func newTestRegistry(t *testing.T, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	tr := &testRegistry{hits: map[string]int{}}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	tr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		switch {
		case strings.Contains(r.URL.Path, "/manifests/"):
			kind = "manifest"
		case strings.Contains(r.URL.Path, "/blobs/"):
			kind = "blob"
		case r.URL.Path == "/v2/" || r.URL.Path == "/v2":
			kind = "ping"
		}
		tr.mu.Lock()
		tr.hits[r.Method+" "+kind]++
		tr.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(tr.srv.Close)
	tr.host = strings.TrimPrefix(tr.srv.URL, "http://")
	return tr
}

// count returns how many requests of a kind were served ("GET blob").
func (tr *testRegistry) count(kind string) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.hits[kind]
}

func (tr *testRegistry) total() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, v := range tr.hits {
		n += v
	}
	return n
}

func (tr *testRegistry) reset() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.hits = map[string]int{}
}

// ref names a repository:tag or repository@digest on the registry.
func (tr *testRegistry) ref(s string) string { return tr.host + "/" + s }

// fastOpts keep retries short so failing tests end in milliseconds.
func fastOpts(extra ...Option) []Option {
	return append([]Option{WithRetries(2), WithRetryDelay(5 * time.Millisecond), WithKeychain(authn.NewMultiKeychain())}, extra...)
}

// layerOf builds a real gzip layer holding the given files.
func layerOf(t *testing.T, files map[string]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range sortedKeys(files) {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// imageOf builds an OCI image for a platform from layers.
func imageOf(t *testing.T, p v1.Platform, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config.Cmd = []string{"/bin/app"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushImage(t *testing.T, ref string, img v1.Image, ropts ...remote.Option) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, ropts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func pushIndex(t *testing.T, ref string, imgs map[string]v1.Image, ropts ...remote.Option) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, k := range sortedKeys(imgs) {
		p, err := v1.ParsePlatform(k)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: imgs[k], Descriptor: v1.Descriptor{Platform: p}})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx, ropts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return idx
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// fixture is a registry holding:
//   - app:1, an index of linux/amd64 and linux/arm64 images;
//   - tool:2, an index of linux/amd64, linux/arm64 and linux/arm/v7;
//   - single:1, a single linux/amd64 image;
//
// all sharing one base layer.
type fixture struct {
	reg  *testRegistry
	imgs map[string]v1.Image // "app:1 linux/amd64" -> image
	idx  map[string]v1.ImageIndex
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reg: newTestRegistry(t, nil), imgs: map[string]v1.Image{}, idx: map[string]v1.ImageIndex{}}
	base := layerOf(t, map[string]string{"etc/os-release": "ID=ferry-test\n", "bin/sh": strings.Repeat("sh", 512)})
	platforms := map[string][]string{
		"app:1":  {"linux/amd64", "linux/arm64"},
		"tool:2": {"linux/amd64", "linux/arm64", "linux/arm/v7"},
	}
	for _, repo := range sortedKeys(platforms) {
		set := map[string]v1.Image{}
		for _, ps := range platforms[repo] {
			p, err := v1.ParsePlatform(ps)
			if err != nil {
				t.Fatal(err)
			}
			own := layerOf(t, map[string]string{"bin/app": fmt.Sprintf("%s for %s\n", repo, ps)})
			img := imageOf(t, *p, base, own)
			set[ps] = img
			f.imgs[repo+" "+ps] = img
		}
		f.idx[repo] = pushIndex(t, f.reg.ref(repo), set)
	}
	single := imageOf(t, v1.Platform{OS: "linux", Architecture: "amd64"}, base, layerOf(t, map[string]string{"bin/single": "single\n"}))
	f.imgs["single:1 linux/amd64"] = single
	pushImage(t, f.reg.ref("single:1"), single)
	f.reg.reset()
	return f
}

package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
	"github.com/ferry-k3s/ferry/signing"
)

//go:embed all:charts
var chartFS embed.FS

// K3sVersion is the release the demo serves.
const K3sVersion = "v1.31.4+k3s1"

// Options shape a demo environment.
type Options struct {
	// Arches to serve; default [amd64].
	Arches []string
	// Sizes of the generated images; default DefaultSizes.
	Sizes ImageSizes
	// ExtraImages adds this many Longhorn-shaped images (named by
	// ExtraRepo) to the registry and to the spec's images.extra; default 0.
	ExtraImages int
	// BinarySize is the stand-in k3s binary's size in bytes; default 4 KiB.
	BinarySize int64
	// AirgapPadding adds this many incompressible bytes to the airgap
	// tarball (benchmarks); default 0.
	AirgapPadding int64
	// CorruptChecksum names a release asset (e.g. "k3s") whose line in the
	// release's checksum list is wrong, for tests of that failure.
	CorruptChecksum string
	// Password of the generated signing key; default "demo".
	Password string
	// Registry, when set (host:port on loopback), receives the images
	// instead of an in-process registry: CI points it at Debian's
	// docker-registry.
	Registry string
}

// Env is a running demo world.
type Env struct {
	Dir      string // spec, keys and the release tree live here
	SpecPath string
	KeyPath  string
	PubPath  string
	Password string
	// Registry is host:port of the image registry.
	Registry string
	// ChartRepo and ReleaseURL are the chart repository and release base.
	ChartRepo, ReleaseURL string

	repos    []string
	servers  []*httptest.Server
	requests atomic.Int64
}

// Requests counts every request any demo server answered.
func (e *Env) Requests() int64 { return e.requests.Load() }

// Close stops the servers. The directory is the caller's.
func (e *Env) Close() {
	for _, s := range e.servers {
		s.Close()
	}
}

func (e *Env) serve(h http.Handler) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	e.servers = append(e.servers, s)
	return s
}

// Start creates dir's contents and starts the servers on 127.0.0.1.
func Start(ctx context.Context, dir string, o Options) (_ *Env, err error) {
	if len(o.Arches) == 0 {
		o.Arches = []string{"amd64"}
	}
	if o.Sizes == (ImageSizes{}) {
		o.Sizes = DefaultSizes
	}
	if o.Password == "" {
		o.Password = "demo"
	}
	e := &Env{Dir: dir, Password: o.Password}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if e.Registry = o.Registry; e.Registry == "" {
		reg := e.serve(registry.New(registry.Logger(discardLogger())))
		u, _ := url.Parse(reg.URL)
		e.Registry = u.Host
	}
	if err := e.pushImages(ctx, o); err != nil {
		return nil, err
	}
	rel := filepath.Join(dir, "release")
	if _, err := releasetest.Write(rel, K3sVersion, o.Arches, releasetest.Options{BinarySize: o.BinarySize, AirgapPadding: o.AirgapPadding, CorruptChecksum: o.CorruptChecksum}); err != nil {
		return nil, fmt.Errorf("demo release: %w", err)
	}
	e.ReleaseURL = e.serve(releasetest.Handler(rel)).URL
	charts := filepath.Join(dir, "chart-repo")
	if err := writeChartRepo(charts); err != nil {
		return nil, err
	}
	crs := e.serve(http.FileServer(http.Dir(charts)))
	e.ChartRepo = crs.URL
	if err := indexCharts(charts, crs.URL); err != nil {
		return nil, err
	}
	e.KeyPath, e.PubPath = filepath.Join(dir, "ferry.key"), filepath.Join(dir, "ferry.pub")
	if _, _, err := signing.WriteKeyPair(filepath.Join(dir, "ferry"), signing.KeyTypeDefault, signing.StaticPass([]byte(o.Password))); err != nil {
		return nil, err
	}
	e.SpecPath = filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(e.SpecPath, []byte(e.spec(o.Arches, o.ExtraImages)), 0o644); err != nil {
		return nil, err
	}
	return e, nil
}

// Images returns every image reference (registry/repository:tag) the demo
// registry serves: Repos, then the extra images.
func (e *Env) Images() []string {
	var refs []string
	for _, r := range e.repos {
		refs = append(refs, e.Registry+"/"+r)
	}
	return refs
}

func allRepos(extra int) []string {
	repos := slices.Clone(Repos)
	for i := range extra {
		repos = append(repos, ExtraRepo(i))
	}
	return repos
}

// pushImages generates and pushes every image, GOMAXPROCS at a time: a
// benchmark-sized world has gigabytes of layers to compress.
func (e *Env) pushImages(ctx context.Context, o Options) error {
	bases := map[string]v1.Layer{}
	for i, arch := range o.Arches {
		l, err := layer(uint64(100+i), "usr/lib/base-"+arch, o.Sizes.BaseFiles, o.Sizes.FileSize, o.Sizes.BinaryEvery)
		if err != nil {
			return err
		}
		bases[arch] = l
	}
	repos := allRepos(o.ExtraImages)
	e.repos = repos
	errs := make([]error, len(repos))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, r := range repos {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = e.pushImage(ctx, r, o, bases)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *Env) pushImage(ctx context.Context, r string, o Options, bases map[string]v1.Layer) error {
	idx, err := index(r, o.Arches, o.Sizes, bases)
	if err != nil {
		return fmt.Errorf("demo image %s: %w", r, err)
	}
	ref, err := name.ParseReference(e.Registry + "/" + r)
	if err != nil {
		return err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push demo image %s: %w", ref, err)
	}
	return nil
}

// writeChartRepo packages the embedded demo charts into dir.
func writeChartRepo(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	src, err := os.MkdirTemp("", "ferry-demo-charts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := os.CopyFS(src, chartFS); err != nil {
		return err
	}
	entries, err := fs.ReadDir(chartFS, "charts")
	if err != nil {
		return err
	}
	for _, d := range entries {
		ch, err := loader.LoadDir(filepath.Join(src, "charts", d.Name()))
		if err != nil {
			return fmt.Errorf("demo chart %s: %w", d.Name(), err)
		}
		if _, err := chartutil.Save(ch, dir); err != nil {
			return fmt.Errorf("package demo chart %s: %w", d.Name(), err)
		}
	}
	return nil
}

func indexCharts(dir, baseURL string) error {
	idx, err := repo.IndexDirectory(dir, baseURL)
	if err != nil {
		return fmt.Errorf("index demo charts: %w", err)
	}
	idx.SortEntries()
	return idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644)
}

// spec is the demo ferry.yaml: both charts, their images redirected to
// the demo registry, an extra image, Traefik values.
func (e *Env) spec(arches []string, extra int) string {
	r := e.Registry
	img := func(repo string) string { return r + "/" + repo }
	extras := []string{img("library/nginx:1.27")}
	for i := range extra {
		extras = append(extras, img(ExtraRepo(i)))
	}
	return strings.TrimLeft(fmt.Sprintf(`
apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata:
  name: demo-edge
  version: 1.0.0
k3s:
  version: %s
  arch: [%s]
  source: %s
charts:
  - name: longhorn
    repo: %s
    version: 1.7.2
    namespace: longhorn-system
    values:
      defaultSettings: {defaultReplicaCount: 2}
      image:
        longhorn:
          manager: {repository: %s}
          engine: {repository: %s}
          instanceManager: {repository: %s}
          shareManager: {repository: %s}
          supportBundleKit: {repository: %s}
        csi:
          attacher: {repository: %s}
        tools: {repository: %s}
  - name: nfs-subdir-external-provisioner
    repo: %s
    version: 4.0.18
    namespace: nfs-provisioner
    values:
      image: {repository: %s}
    required: [nfs.server, nfs.path]
traefik:
  values:
    service:
      spec: {externalTrafficPolicy: Local}
images:
  extra: [%s]
`, K3sVersion, strings.Join(arches, ", "), e.ReleaseURL, e.ChartRepo,
		img("longhornio/longhorn-manager"), img("longhornio/longhorn-engine"), img("longhornio/longhorn-instance-manager"),
		img("longhornio/longhorn-share-manager"), img("longhornio/support-bundle-kit"), img("longhornio/csi-attacher"),
		img("library/busybox"), e.ChartRepo, img("sig-storage/nfs-subdirectory-external-provisioner"), strings.Join(extras, ", ")), "\n")
}

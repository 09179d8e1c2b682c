package builder

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-k3s/ferry/bundle/charts"
	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/bundle/images"
	"github.com/ferry-k3s/ferry/bundle/release"
	"github.com/ferry-k3s/ferry/bundle/spec"
	"github.com/ferry-k3s/ferry/internal/stall"
)

// Plan is a spec resolved to exact artifacts, all of them in the cache.
type Plan struct {
	Spec   *spec.Spec
	Assets []*release.Assets // one per arch, in spec order
	Charts []PlannedChart
	// Refs are the images to carry: discovered in the charts, plus
	// images.extra, minus images.exclude; normalised, sorted, unique.
	Refs []string
	// Images holds each arch's resolved images, in Refs order.
	Images    map[string][]images.Resolved
	Files     []PlannedFile
	Templates []PlannedTemplate
	// Lock pins everything above.
	Lock *spec.Lock
	// Stats of the downloads made while resolving.
	Fetch fetch.Stats

	locked   *spec.Lock
	releases *task
}

// PlannedChart is a chart archive in the cache and the images it runs.
type PlannedChart struct {
	Spec    spec.Chart
	Archive *charts.Archive
	Images  []string
}

// PlannedFile is an extra host file in the cache.
type PlannedFile struct {
	Spec spec.File
	Name string // path under files/
	File *fetch.File
}

// PlannedTemplate is a template override from the spec's templates dir.
type PlannedTemplate struct {
	Name   string // path under templates/
	Path   string
	SHA256 string
	Size   int64
}

// clients are the fetchers of one build, sharing the cache and transport.
type clients struct {
	prog    *progress
	net     *countingTransport
	fetch   *fetch.Client
	charts  []charts.Option
	images  []images.Option
	renders *renderCache
}

func newClients(o *Options, prog *progress) (*clients, error) {
	fopts := []fetch.Option{fetch.WithCacheDir(o.CacheDir)}
	copts := []charts.Option{charts.WithCacheDir(o.CacheDir + "/charts")}
	iopts := []images.Option{images.WithCacheDir(o.CacheDir + "/images"), images.WithJobs(o.Jobs)}
	next := o.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	ct := &countingTransport{next: next}
	fopts = append(fopts, fetch.WithTransport(ct))
	stallAfter := fetch.DefaultStallTimeout
	if o.StallTimeout > 0 {
		stallAfter = o.StallTimeout
	}
	copts = append(copts, charts.WithHTTPClient(&http.Client{Transport: &stall.Transport{Next: ct, After: stallAfter}, Timeout: 10 * time.Minute}))
	iopts = append(iopts, images.WithTransport(ct))
	if o.Retries > 0 {
		fopts = append(fopts, fetch.WithRetries(o.Retries))
		copts = append(copts, charts.WithRetries(o.Retries))
		iopts = append(iopts, images.WithRetries(o.Retries))
	}
	if o.RetryDelay > 0 {
		fopts = append(fopts, fetch.WithBackoff(o.RetryDelay, 4*o.RetryDelay))
		iopts = append(iopts, images.WithRetryDelay(o.RetryDelay))
	}
	if o.StallTimeout > 0 {
		fopts = append(fopts, fetch.WithStallTimeout(o.StallTimeout))
		iopts = append(iopts, images.WithStallTimeout(o.StallTimeout))
	}
	if o.MaxDownload > 0 {
		fopts = append(fopts, fetch.WithMaxSize(o.MaxDownload))
	}
	if prog != nil {
		fopts = append(fopts, fetch.WithProgress(prog.fetch))
		iopts = append(iopts, images.WithProgress(prog.images))
	}
	if len(o.RemoteOptions) > 0 {
		iopts = append(iopts, images.WithRemoteOptions(o.RemoteOptions...))
	}
	fc, err := fetch.New(fopts...)
	if err != nil {
		return nil, err
	}
	return &clients{prog: prog, net: ct, fetch: fc, charts: copts, images: iopts, renders: newRenderCache(o.CacheDir)}, nil
}

// Resolve loads the spec and resolves it to a Plan: every artifact is
// fetched into the cache and pinned. With o.Locked the lock file's digests
// are used and any difference from it is an error.
func Resolve(ctx context.Context, o Options) (*Plan, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := newClients(&o, startProgress(ctx, o.Progress))
	if err != nil {
		return nil, err
	}
	return resolve(ctx, &o, c)
}

func resolve(ctx context.Context, o *Options, c *clients) (*Plan, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := startResolve(ctx, cancel, o, c)
	if err != nil {
		return nil, err
	}
	defer p.releases.stop()
	if err := p.finishResolve(o, c); err != nil {
		return nil, err
	}
	return p, nil
}

// startResolve resolves everything but the k3s release assets, whose
// download it starts and leaves running: Build downloads the image layers
// meanwhile. finishResolve waits for it; the caller must call
// p.releases.stop when done with p. A failed release download calls
// cancel, so that the work of ctx stops early; p.releases.failed then
// tells the cause.
func startResolve(ctx context.Context, cancel context.CancelFunc, o *Options, c *clients) (*Plan, error) {
	s, err := spec.Load(o.SpecPath)
	if err != nil {
		return nil, err
	}
	var locked *spec.Lock
	if o.Locked {
		if locked, err = spec.ReadLock(o.LockPath); err != nil {
			return nil, fmt.Errorf("build --locked: %w (run 'ferry lock -f %s' first)", err, o.SpecPath)
		}
	}
	p := &Plan{Spec: s, Images: map[string][]images.Resolved{}, locked: locked}
	o.logf("resolving %s %s: k3s %s for %s", s.Metadata.Name, s.Metadata.Version, s.K3s.Version, strings.Join(s.K3s.Arch, ", "))
	p.releases = startTask(ctx, cancel, func(ctx context.Context) error { return p.fetchReleases(ctx, c, locked) })
	fail := func(err error) (*Plan, error) {
		return nil, p.releases.failed(err)
	}
	if err := p.pullCharts(ctx, o, c); err != nil {
		return fail(err)
	}
	if p.Refs, err = imageRefs(p.Charts, s.Images); err != nil {
		return fail(err)
	}
	if err := p.resolveImages(ctx, o, c, locked); err != nil {
		return fail(err)
	}
	if err := p.fetchFiles(ctx, c); err != nil {
		return fail(err)
	}
	if p.Templates, err = templates(s.Templates); err != nil {
		return fail(err)
	}
	return p, nil
}

// finishResolve waits for the release assets, then pins everything in
// p.Lock and, for --locked, compares it with the lock file.
func (p *Plan) finishResolve(o *Options, c *clients) error {
	if err := p.releases.wait(); err != nil {
		return err
	}
	p.Lock = p.makeLock()
	if p.locked != nil {
		if diff := p.locked.Diff(p.Lock); len(diff) > 0 {
			return &LockedError{Path: o.LockPath, Diff: diff}
		}
	}
	p.Fetch = c.fetch.Stats()
	return nil
}

// LockedError is a --locked build that resolved differently from its lock.
type LockedError struct {
	Path string
	Diff []string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("build --locked: %d difference(s) from %s: %s; run 'ferry lock' to accept the new versions", len(e.Diff), e.Path, strings.Join(e.Diff, "; "))
}

func (p *Plan) fetchReleases(ctx context.Context, c *clients, locked *spec.Lock) error {
	p.Assets = make([]*release.Assets, len(p.Spec.K3s.Arch))
	errs := make([]error, len(p.Spec.K3s.Arch))
	var wg sync.WaitGroup
	for i, arch := range p.Spec.K3s.Arch {
		src := release.Source{BaseURL: p.Spec.K3s.Source, Version: p.Spec.K3s.Version, Arch: arch}
		if locked != nil {
			src.Pinned = map[string]string{}
			for _, a := range locked.K3s {
				if a.Arch == arch {
					src.Pinned[a.Name] = a.SHA256
				}
			}
		}
		wg.Go(func() {
			p.Assets[i], errs[i] = release.Fetch(ctx, c.fetch, src)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Plan) pullCharts(ctx context.Context, o *Options, c *clients) error {
	for i, sc := range p.Spec.Charts {
		opts := append(slices.Clone(c.charts), charts.WithSpecPath(fmt.Sprintf("charts[%d]", i)))
		if isLoopbackOCI(sc.Repo) {
			opts = append(opts, charts.WithPlainHTTP())
		}
		a, err := charts.Pull(ctx, charts.Source{Name: sc.Name, Repo: sc.Repo, Version: sc.Version, Keyring: sc.Keyring}, opts...)
		if err != nil {
			return err
		}
		refs, err := chartImages(ctx, a, charts.RenderOptions{
			ReleaseName: sc.ReleaseName, Namespace: sc.Namespace, KubeVersion: p.Spec.KubeVersion,
			Values: withPlaceholders(sc.Values, sc.Required), Limits: o.Render,
		}, c.renders)
		if err != nil {
			return fmt.Errorf("charts[%d] (%s %s): %w", i, a.Name, a.Version, err)
		}
		o.logf("chart %s %s: %d bytes, sha256 %s, %d images", a.Name, a.Version, a.Size, a.SHA256[:12], len(refs))
		p.Charts = append(p.Charts, PlannedChart{Spec: sc, Archive: a, Images: refs})
	}
	return nil
}

// chartImages renders a chart and finds the images it runs, unless the
// render cache knows them.
func chartImages(ctx context.Context, a *charts.Archive, opts charts.RenderOptions, rc *renderCache) ([]string, error) {
	key := rc.key(a, opts)
	if refs, ok := rc.lookup(key); ok {
		return refs, nil
	}
	rendered, err := charts.Render(ctx, a.Path, opts)
	if err != nil {
		return nil, err
	}
	refs, err := charts.Images(rendered)
	if err != nil {
		return nil, fmt.Errorf("find images: %w", err)
	}
	rc.store(key, refs)
	return refs, nil
}

// isLoopbackOCI reports an oci:// chart registry on this machine, which
// speaks plain HTTP (labs, tests, the demo).
func isLoopbackOCI(repo string) bool {
	rest, ok := strings.CutPrefix(repo, "oci://")
	if !ok {
		return false
	}
	host := strings.SplitN(rest, "/", 2)[0]
	return strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost:") || host == "localhost"
}

// imageRefs unions the charts' images and images.extra, removes
// images.exclude, and returns them normalised and sorted.
func imageRefs(cs []PlannedChart, im spec.Images) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	add := func(ref, where string) error {
		n, err := normalise(ref)
		if err != nil {
			return fmt.Errorf("%s: image %q: %w", where, ref, err)
		}
		if seen[n] || im.Excludes(ref) || im.Excludes(n) {
			return nil
		}
		seen[n] = true
		out = append(out, n)
		return nil
	}
	for _, c := range cs {
		for _, r := range c.Images {
			if err := add(r, "chart "+c.Archive.Name); err != nil {
				return nil, err
			}
		}
	}
	for i, r := range im.Extra {
		if err := add(r, fmt.Sprintf("images.extra[%d]", i)); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}

// normalise spells a reference in full: docker.io/library/nginx:1.27.
func normalise(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	repo := r.Context()
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	full := reg + "/" + repo.RepositoryStr()
	switch v := r.(type) {
	case name.Tag:
		return full + ":" + v.TagStr(), nil
	case name.Digest:
		return full + "@" + v.DigestStr(), nil
	}
	return "", fmt.Errorf("not a tag or digest reference")
}

func (p *Plan) resolveImages(ctx context.Context, o *Options, c *clients, locked *spec.Lock) error {
	if len(p.Refs) == 0 {
		return nil
	}
	for _, arch := range p.Spec.K3s.Arch {
		if locked != nil {
			pinned, ok := pinnedImages(locked, p.Refs, arch)
			if ok {
				p.Images[arch] = pinned
				continue
			}
			// Not all pinned: resolve, and let the lock diff name what moved.
		}
		rs, err := images.Resolve(ctx, p.Refs, arch, c.images...)
		if err != nil {
			return err
		}
		o.logf("images for %s: %d resolved", arch, len(rs))
		p.Images[arch] = rs
	}
	return nil
}

// pinnedImages returns refs pinned to the lock's digests for arch, and
// false if any ref is not in the lock.
func pinnedImages(l *spec.Lock, refs []string, arch string) ([]images.Resolved, bool) {
	out := make([]images.Resolved, 0, len(refs))
	for _, r := range refs {
		li, ok := l.Image(r, arch)
		if !ok {
			return nil, false
		}
		out = append(out, images.Resolved{Ref: r, Arch: arch, Digest: li.Digest})
	}
	return out, true
}

func (p *Plan) fetchFiles(ctx context.Context, c *clients) error {
	for i, f := range p.Spec.Files {
		src := f.Source
		if f.IsLocal() && !strings.HasPrefix(src, "file://") {
			src = "file://" + src
		}
		got, err := c.fetch.Get(ctx, src, fetch.Want{SHA256: f.SHA256})
		if err != nil {
			return fmt.Errorf("files[%d]: %w", i, err)
		}
		n := f.Name
		if n == "" {
			n = src[strings.LastIndex(src, "/")+1:]
		}
		p.Files = append(p.Files, PlannedFile{Spec: f, Name: n, File: got})
	}
	return nil
}

package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
)

// Summary describes a finished build.
type Summary struct {
	Bundle string `json:"bundle"`
	// Parts lists the files of a split bundle (empty when not split).
	Parts     []string      `json:"parts,omitempty"`
	Size      int64         `json:"size"`
	SHA256    string        `json:"sha256"`
	Signed    bool          `json:"signed"`
	KeyID     string        `json:"keyID,omitempty"`
	Payload   int64         `json:"payload"`
	Entries   int           `json:"entries"`
	Charts    int           `json:"charts"`
	Images    int           `json:"images"`
	Arches    []string      `json:"arches"`
	Duration  time.Duration `json:"durationNs"`
	Requests  int64         `json:"requests"`
	Download  int64         `json:"downloadedBytes"`
	Artifacts []Artifact    `json:"artifacts"`
}

// Artifact is one entry of the bundle as the summary lists it.
type Artifact struct {
	Path string      `json:"path"`
	Role bundle.Role `json:"role"`
	Size int64       `json:"size"`
}

// Build resolves the spec and writes the bundle into o.OutDir.
func Build(ctx context.Context, o Options) (*Summary, error) {
	start := time.Now()
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if o.Signer == nil && o.Key == nil && !o.InsecureUnsigned {
		return nil, errors.New("build: no signing key: pass --key ferry.key (make one with 'ferry keygen'), or --insecure-unsigned for an experiment")
	}
	if o.OutDir == "" {
		return nil, errors.New("build: no output directory: pass -o DIR")
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := newClients(&o, startProgress(ctx, o.Progress))
	if err != nil {
		return nil, err
	}
	created := o.Created
	if created.IsZero() {
		var err error
		if created, err = sourceDateEpoch(); err != nil {
			return nil, err
		}
	}
	// The signing key is decrypted beside everything up to the write: a
	// wrong password still cancels the build at once.
	signer := startSigner(ctx, cancel, &o)
	defer signer.stop()
	p, err := startResolve(ctx, cancel, &o, c)
	if err != nil {
		return nil, signer.failed(err)
	}
	defer p.releases.stop()
	// Without --locked the image layers download while the release assets
	// still do. With it, a difference from the lock (which needs the
	// assets' digests) fails before any layer is downloaded.
	if o.Locked {
		if err := p.finishResolve(&o, c); err != nil {
			return nil, signer.failed(err)
		}
	}
	archives, err := p.imageArchives(ctx, &o, c)
	if err != nil {
		return nil, signer.failed(p.releases.failed(err))
	}
	if !o.Locked {
		if err := p.finishResolve(&o, c); err != nil {
			return nil, signer.failed(err)
		}
	}
	if err := signer.wait(); err != nil {
		return nil, err
	}
	sources, m, err := p.sources(archives, created)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(o.OutDir, m.Name+"-"+m.Version+".ferry")
	var payload int64
	for _, src := range sources {
		payload += src.Entry.Size
	}
	o.logf("writing %s: %d entries, %d MiB", out, len(sources), payload>>20)
	wopts := []bundle.WriteOption{bundle.WithModTime(created), bundle.WithLevel(o.Level)}
	if o.Signer != nil {
		wopts = append(wopts, bundle.WithSigner(o.Signer))
	}
	if o.Split > 0 {
		wopts = append(wopts, bundle.WithSplit(o.Split))
	}
	if c.prog != nil {
		wopts = append(wopts, bundle.WithWriteProgress(c.prog.write))
	}
	key, final, err := bundleKey(m, sources, &o, created)
	if err != nil {
		return nil, err
	}
	var res *bundle.Result
	if o.Split == 0 { // parts are not kept for reuse
		r, ok, err := reuseBundle(ctx, &o, key, out)
		if err != nil {
			return nil, err
		}
		if ok {
			o.logf("bundle reused from cache: its inputs are unchanged")
			sum, _ := hex.DecodeString(r.SHA256)
			res = &bundle.Result{Manifest: final, Size: r.Size, SHA256: sum}
		}
	}
	if res == nil {
		if res, err = bundle.WriteFile(ctx, out, *m, sources, wopts...); err != nil {
			return nil, err
		}
		if o.Split == 0 {
			keepBundle(&o, key, out, res)
		}
	}
	sum := &Summary{
		Bundle: out, Size: res.Size, SHA256: hex.EncodeToString(res.SHA256), Signed: o.Signer != nil, KeyID: res.Manifest.KeyID,
		Payload: res.Manifest.PayloadSize(), Entries: len(res.Manifest.Entries), Charts: len(p.Charts), Images: len(res.Manifest.Images),
		Arches: p.Spec.K3s.Arch, Duration: time.Since(start), Requests: c.net.requests.Load(), Download: c.net.bytes.Load(),
	}
	if o.Split > 0 {
		for n := 1; ; n++ {
			part := bundle.PartPath(out, n)
			if _, err := os.Stat(part); err != nil {
				break
			}
			sum.Parts = append(sum.Parts, part)
		}
	}
	for _, e := range res.Manifest.Entries {
		sum.Artifacts = append(sum.Artifacts, Artifact{Path: e.Path, Role: e.Role, Size: e.Size})
	}
	return sum, nil
}

// startSigner decrypts o.Key into o.Signer in the background (nil when
// there is nothing to decrypt). Decrypting runs scrypt, which leaves 64 MiB
// of garbage; with GOGC's default the heap goal would then stay near twice
// that for the whole build, so the task collects it and gives the memory
// back (see BENCHMARKS.md).
func startSigner(ctx context.Context, cancel context.CancelFunc, o *Options) *task {
	if o.Signer != nil || o.Key == nil {
		return nil
	}
	return startTask(ctx, cancel, func(context.Context) error {
		s, err := o.Key.Signer()
		if err != nil {
			return err
		}
		debug.FreeOSMemory()
		o.Signer = s
		return nil
	})
}

// sourceDateEpoch returns SOURCE_DATE_EPOCH, or the Unix epoch.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: unset it or fix it", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// fileSource is a source read from path. hashed is true when this process
// hashed path's content while it wrote it (see bundle.Source.Hashed).
func fileSource(e bundle.Entry, path string, hashed bool) bundle.Source {
	return bundle.Source{Entry: e, Open: func() (io.ReadCloser, error) { return os.Open(path) }, Hashed: hashed}
}

// imageArchives makes each arch's image archive, downloading the layers
// the cache lacks.
func (p *Plan) imageArchives(ctx context.Context, o *Options, c *clients) (map[string]*archive, error) {
	out := map[string]*archive{}
	for _, arch := range p.Spec.K3s.Arch {
		if imgs := p.Images[arch]; len(imgs) > 0 {
			a, err := imageArchive(ctx, o, c, arch, imgs)
			if err != nil {
				return nil, err
			}
			out[arch] = a
		}
	}
	return out, nil
}

// sources turns the plan and its image archives into bundle entries and
// the manifest.
func (p *Plan) sources(archives map[string]*archive, created time.Time) ([]bundle.Source, *bundle.Manifest, error) {
	s := p.Spec
	m := &bundle.Manifest{
		Name: s.Metadata.Name, Version: s.Metadata.Version, Created: created, Expires: s.Metadata.Expires,
		K3sVersion: s.K3s.Version, Arches: s.K3s.Arch, Traefik: s.Traefik.Values,
	}
	var srcs []bundle.Source
	for _, a := range p.Assets {
		srcs = append(srcs,
			fileSource(bundle.Entry{Path: "k3s/" + a.Arch + "/k3s", Size: a.Binary.Size, SHA256: a.Binary.SHA256, Role: bundle.RoleK3sBinary, Arch: a.Arch, Mode: 0o755}, a.Binary.Path, !a.Binary.FromCache),
			fileSource(bundle.Entry{Path: "images/" + a.Arch + "/k3s-airgap-images.tar.zst", Size: a.Airgap.Size, SHA256: a.Airgap.SHA256, Role: bundle.RoleAirgapImages, Arch: a.Arch}, a.Airgap.Path, !a.Airgap.FromCache))
	}
	for _, pc := range p.Charts {
		path := "charts/" + pc.Archive.Name + "-" + pc.Archive.Version + ".tgz"
		srcs = append(srcs, fileSource(bundle.Entry{Path: path, Size: pc.Archive.Size, SHA256: pc.Archive.SHA256, Role: bundle.RoleChart}, pc.Archive.Path, false))
		m.Charts = append(m.Charts, bundle.Chart{
			Name: pc.Archive.Name, Version: pc.Archive.Version, Digest: "sha256:" + pc.Archive.SHA256, Namespace: pc.Spec.Namespace,
			Path: path, Required: pc.Spec.Required, Values: pc.Spec.Values,
		})
	}
	for _, arch := range s.K3s.Arch {
		imgs, a := p.Images[arch], archives[arch]
		if a == nil {
			continue
		}
		path := "images/" + arch + "/ferry-images.tar"
		srcs = append(srcs, bundle.Source{Entry: bundle.Entry{Path: path, Size: a.Size, SHA256: a.SHA256, Role: bundle.RoleImages, Arch: arch}, Open: a.open, Hashed: a.hashed})
		for _, im := range imgs {
			m.Images = append(m.Images, bundle.Image{Ref: im.Ref, Digest: im.Digest, Arch: arch, Archive: path})
		}
	}
	for _, f := range p.Files {
		perm, err := f.Spec.Perm()
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, fileSource(bundle.Entry{Path: "files/" + f.Name, Size: f.File.Size, SHA256: f.File.SHA256, Role: bundle.RoleFile, Mode: uint32(perm), HostPath: f.Spec.HostPath}, f.File.Path, !f.File.FromCache))
	}
	for _, t := range p.Templates {
		srcs = append(srcs, fileSource(bundle.Entry{Path: t.Name, Size: t.Size, SHA256: t.SHA256, Role: bundle.RoleTemplate}, t.Path, false))
	}
	sbom, err := p.sbom(created)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(sbom)
	srcs = append(srcs, bundle.Source{
		Entry: bundle.Entry{Path: "sbom.spdx.json", Size: int64(len(sbom)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleSBOM},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(sbom))), nil },
	})
	return srcs, m, nil
}

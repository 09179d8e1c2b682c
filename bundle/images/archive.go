package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ArchiveImage is one image written to an archive.
type ArchiveImage struct {
	// Ref is the image's normalised reference.
	Ref string `json:"ref"`
	// Digest is the image manifest's digest (sha256:...).
	Digest string `json:"digest"`
	// Arch is the image's architecture.
	Arch string `json:"arch"`
}

// ArchiveResult describes an archive WriteArchive wrote.
type ArchiveResult struct {
	// Images lists the images, in the order they were given.
	Images []ArchiveImage `json:"images"`
	// Bytes is the size of the archive (bytes).
	Bytes int64 `json:"bytes"`
	// Blobs is the number of blobs written: manifests, configs and layers,
	// each once.
	Blobs int `json:"blobs"`
	// Layers is the number of distinct layers written.
	Layers int `json:"layers"`
	// SharedLayers is how many of those layers more than one image uses
	// (each was written once).
	SharedLayers int `json:"sharedLayers"`
}

// pinned is one distinct image manifest to write.
type pinned struct {
	r        imageRef // the first reference naming it, for pulls
	at       name.Digest
	doc      manifestDoc
	manifest *v1.Manifest
	platform *v1.Platform
}

// blobNeed is one distinct blob to write.
type blobNeed struct {
	r     imageRef
	size  int64
	layer bool
	users map[string]bool // manifest digests using it
}

// WriteArchive writes one tar holding every image of imgs, which must all
// be of one architecture, in a form k3s imports from its agent/images
// directory: an OCI image layout whose index.json names each image (tag
// and digest forms) with the io.containerd.image.name annotation, plus a
// Docker manifest.json. Each image is pulled by digest (Ref's repository @
// Digest), so the archive holds exactly what was resolved.
//
// Blobs are downloaded in parallel (WithJobs) into the cache (WithCacheDir,
// or a temporary directory removed afterwards) and streamed into the tar
// in a fixed order, each as soon as it is in the cache: the same images
// give the same bytes. Each blob is written once however many images share
// it.
func WriteArchive(ctx context.Context, w io.Writer, imgs []Resolved, opts ...Option) (*ArchiveResult, error) {
	o := makeOptions(opts)
	pins, names, err := planArchive(imgs)
	if err != nil {
		return nil, err
	}
	dir := o.cacheDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ferry-images-*")
		if err != nil {
			return nil, fmt.Errorf("image staging directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	st, err := openStore(dir)
	if err != nil {
		return nil, err
	}
	c, err := newClient(o, st)
	if err != nil {
		return nil, err
	}
	if err := c.loadManifests(ctx, pins); err != nil {
		return nil, err
	}
	blobs := collectBlobs(pins)
	pl := c.startPulls(ctx, blobs)
	res := &ArchiveResult{}
	for _, img := range imgs {
		r, _ := parseRef(img.Ref)
		res.Images = append(res.Images, ArchiveImage{Ref: r.String(), Digest: img.Digest, Arch: img.Arch})
	}
	for _, b := range blobs {
		res.Blobs++
		if b.layer {
			res.Layers++
			if len(b.users) > 1 {
				res.SharedLayers++
			}
		}
	}
	// A blob downloaded just now was hashed on its way into the store;
	// only blobs that were already cached are hashed again.
	rehash := func(digest string) bool { return !o.skipRehash && !pl.fresh(digest) }
	n, err := writeLayout(ctx, w, st, pins, names, blobs, rehash, pl.wait)
	res.Bytes = n
	if err != nil {
		pl.cancel()
	}
	perr := pl.finish()
	switch {
	case perr != nil && !errors.Is(perr, context.Canceled):
		return nil, perr // the download failure is what stopped the archive
	case err != nil:
		return nil, err
	case perr != nil:
		return nil, perr
	}
	return res, nil
}

// planArchive checks imgs and lists the distinct manifests (sorted by
// digest) and the names each is known by (name -> manifest digest).
func planArchive(imgs []Resolved) ([]*pinned, map[string]string, error) {
	byDigest := map[string]*pinned{}
	names := map[string]string{}
	arch := ""
	for _, img := range imgs {
		if arch == "" {
			arch = img.Arch
		}
		if img.Arch != arch {
			return nil, nil, fmt.Errorf("images for both %s and %s given: write one archive per architecture", arch, img.Arch)
		}
		if _, err := platformFor(img.Arch); err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		r, at, err := refOf(img)
		if err != nil {
			return nil, nil, err
		}
		p, ok := byDigest[img.Digest]
		if !ok || r.String() < p.r.String() {
			byDigest[img.Digest] = &pinned{r: r, at: at}
		}
		for _, n := range r.names() {
			if prev, ok := names[n]; ok && prev != img.Digest {
				return nil, nil, fmt.Errorf("image %s is given twice, as %s and %s: keep one", n, prev, img.Digest)
			}
			names[n] = img.Digest
		}
	}
	pins := make([]*pinned, 0, len(byDigest))
	for _, p := range byDigest {
		pins = append(pins, p)
	}
	sort.Slice(pins, func(i, j int) bool { return pins[i].at.DigestStr() < pins[j].at.DigestStr() })
	return pins, names, nil
}

// loadManifests fetches (or reads from the store) every manifest and its
// config, in parallel.
func (c *client) loadManifests(ctx context.Context, pins []*pinned) error {
	errs := forEach(ctx, len(pins), c.o.jobs, func(ctx context.Context, i int) error {
		p := pins[i]
		doc, err := c.manifest(ctx, p.r, p.at)
		if err != nil {
			return err
		}
		if !doc.mediaType.IsImage() {
			return fmt.Errorf("image %s: %s is a %s, not an image manifest: resolve the reference for one architecture first", p.r, p.at.DigestStr(), doc.mediaType)
		}
		m, err := v1.ParseManifest(bytes.NewReader(doc.raw))
		if err != nil {
			return fmt.Errorf("image %s: parse manifest: %w", p.r, err)
		}
		cf, err := c.config(ctx, p.r, m.Config)
		if err != nil {
			return err
		}
		p.doc, p.manifest, p.platform = doc, m, cf.Platform()
		return nil
	})
	return errors.Join(errs...)
}

// collectBlobs lists every blob the manifests need, each once: the
// manifests themselves, configs and layers.
func collectBlobs(pins []*pinned) map[string]*blobNeed {
	blobs := map[string]*blobNeed{}
	add := func(p *pinned, d v1.Descriptor, layer bool) {
		dig := d.Digest.String()
		b, ok := blobs[dig]
		if !ok {
			b = &blobNeed{r: p.r, size: d.Size, users: map[string]bool{}}
			blobs[dig] = b
		}
		b.layer = b.layer || layer
		b.users[p.doc.digest] = true
	}
	for _, p := range pins {
		add(p, v1.Descriptor{Digest: mustHash(p.doc.digest), Size: int64(len(p.doc.raw))}, false)
		add(p, p.manifest.Config, false)
		for _, l := range p.manifest.Layers {
			add(p, l, true)
		}
	}
	return blobs
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		panic(fmt.Sprintf("digest %q checked earlier: %v", s, err))
	}
	return h
}

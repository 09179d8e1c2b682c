package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Resolved is an image reference pinned to the manifest of one platform.
type Resolved struct {
	// Ref is the reference as given, normalised to its full name
	// (nginx:1.27 becomes docker.io/library/nginx:1.27).
	Ref string `json:"ref"`
	// Arch is the architecture the image was resolved for: amd64, arm64
	// or arm (linux/arm/v7).
	Arch string `json:"arch"`
	// Digest is the digest of the platform's image manifest (sha256:...).
	Digest string `json:"digest"`
	// IndexDigest is the digest of the index (multi-platform manifest
	// list) the reference named, or "" when it named an image manifest.
	IndexDigest string `json:"indexDigest,omitempty"`
}

// Resolve resolves every reference (by tag or by digest) to the manifest of
// its linux/<arch> image, asking the registry in parallel (WithJobs). The
// result is in the order of refs. A tag is always resolved by the registry;
// with WithCacheDir, a reference by digest whose manifests are cached needs
// no request at all.
//
// Errors name each failing reference (all of them, joined): a tag or digest
// the registry does not have (ErrNotFound), refused credentials
// (ErrUnauthorized), a registry unreachable after the retries
// (ErrUnreachable), or an image with no linux/<arch> variant (ErrPlatform).
func Resolve(ctx context.Context, refs []string, arch string, opts ...Option) ([]Resolved, error) {
	want, err := platformFor(arch)
	if err != nil {
		return nil, err
	}
	parsed := make([]imageRef, len(refs))
	var bad []error
	for i, s := range refs {
		if parsed[i], err = parseRef(s); err != nil {
			bad = append(bad, err)
		}
	}
	if len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	o := makeOptions(opts)
	var st *store
	if o.cacheDir != "" {
		if st, err = openStore(o.cacheDir); err != nil {
			return nil, err
		}
	}
	c, err := newClient(o, st)
	if err != nil {
		return nil, err
	}
	out := make([]Resolved, len(refs))
	errs := forEach(ctx, len(refs), o.jobs, func(ctx context.Context, i int) error {
		res, err := c.resolve(ctx, parsed[i], arch, want)
		out[i] = res
		return err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// resolve pins one reference to its platform manifest.
func (c *client) resolve(ctx context.Context, r imageRef, arch string, want v1.Platform) (Resolved, error) {
	doc, err := c.manifest(ctx, r, r.ref)
	if err != nil {
		return Resolved{}, err
	}
	res := Resolved{Ref: r.String(), Arch: arch, Digest: doc.digest}
	switch {
	case doc.mediaType.IsIndex():
		child, err := pickPlatform(r, doc, want)
		if err != nil {
			return Resolved{}, err
		}
		res.IndexDigest, res.Digest = doc.digest, child.Digest.String()
		at, err := r.at(res.Digest)
		if err != nil {
			return Resolved{}, fmt.Errorf("image %s: %w", r, err)
		}
		// Fetch the platform manifest too: it proves the registry has it
		// and leaves it in the cache for WriteArchive.
		cdoc, err := c.manifest(ctx, r, at)
		if err != nil {
			return Resolved{}, err
		}
		if !cdoc.mediaType.IsImage() {
			return Resolved{}, fmt.Errorf("image %s: %s entry of the index is %s, not an image manifest: nested indexes are not supported, pin the platform image by digest", r, platformString(child.Platform), cdoc.mediaType)
		}
	case doc.mediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(doc.raw))
		if err != nil {
			return Resolved{}, fmt.Errorf("image %s: parse manifest: %w", r, err)
		}
		cf, err := c.config(ctx, r, m.Config)
		if err != nil {
			return Resolved{}, err
		}
		if p := cf.Platform(); !matches(p, want) {
			return Resolved{}, fmt.Errorf("image %s: %w: it is a single-platform image for %s, %s wanted: use an image built for %s or exclude it for this architecture", r, ErrPlatform, platformString(p), platformString(&want), arch)
		}
	case doc.mediaType.IsSchema1():
		return Resolved{}, fmt.Errorf("image %s: Docker schema 1 manifests are not supported: push the image again with a current tool", r)
	default:
		return Resolved{}, fmt.Errorf("image %s: manifest type %q is not an image or an index", r, doc.mediaType)
	}
	return res, nil
}

// pickPlatform chooses the index entry for want: the first exact match
// (variant included), else the first compatible one (see matches).
func pickPlatform(r imageRef, doc manifestDoc, want v1.Platform) (v1.Descriptor, error) {
	idx, err := v1.ParseIndexManifest(bytes.NewReader(doc.raw))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("image %s: parse index: %w", r, err)
	}
	var found *v1.Descriptor
	var have []string
	for i := range idx.Manifests {
		d := &idx.Manifests[i]
		if !matches(d.Platform, want) {
			if d.Platform != nil && d.Platform.OS != "unknown" {
				have = append(have, platformString(d.Platform))
			}
			continue
		}
		if d.Platform.Variant == want.Variant {
			return *d, nil
		}
		if found == nil {
			found = d
		}
	}
	if found != nil {
		return *found, nil
	}
	return v1.Descriptor{}, fmt.Errorf("image %s: %w: the index has no %s image (it has %s): exclude the image for this architecture or use one built for it",
		r, ErrPlatform, platformString(&want), strings.Join(have, ", "))
}

// refOf parses a Resolved's reference for the archive writer.
func refOf(res Resolved) (imageRef, name.Digest, error) {
	r, err := parseRef(res.Ref)
	if err != nil {
		return imageRef{}, name.Digest{}, err
	}
	if _, err := checkDigest(res.Digest); err != nil {
		return imageRef{}, name.Digest{}, fmt.Errorf("image %s: %w: resolve it first", res.Ref, err)
	}
	at, err := r.at(res.Digest)
	if err != nil {
		return imageRef{}, name.Digest{}, fmt.Errorf("image %s: %w", res.Ref, err)
	}
	return r, at, nil
}

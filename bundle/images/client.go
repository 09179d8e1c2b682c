package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ferry-k3s/ferry/internal/stall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxConfigSize caps an image config read into memory (bytes).
const maxConfigSize = 64 << 20

// client reads manifests and blobs, from the store when it holds them by
// digest and from the registry otherwise.
type client struct {
	o      options
	store  *store // nil: nothing is cached
	puller *remote.Puller
}

func newClient(o options, st *store) (*client, error) {
	ropts := []remote.Option{
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithRetryBackoff(remote.Backoff{Duration: o.retryDelay, Factor: 2, Jitter: 0.1, Steps: o.retries + 1}),
		remote.WithRetryPredicate(retryable),
		remote.WithUserAgent("ferry"),
		remote.WithTransport(&boundedTransport{next: o.transport, stall: o.stall}),
	}
	ropts = append(ropts, o.remoteOpts...)
	p, err := remote.NewPuller(ropts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return &client{o: o, store: st, puller: p}, nil
}

// attempts is how many times a request is tried, for error messages.
func (c *client) attempts() int { return c.o.retries + 1 }

// manifestDoc is a manifest or index as the registry served it.
type manifestDoc struct {
	raw       []byte
	mediaType types.MediaType
	digest    string
}

// manifest fetches the manifest or index ref names. A digest reference is
// served from the store when it holds it; a tag is always asked of the
// registry (a HEAD when there is a store, so an unchanged tag costs no
// download).
func (c *client) manifest(ctx context.Context, r imageRef, ref name.Reference) (manifestDoc, error) {
	if c.store != nil {
		dig := ""
		if d, ok := ref.(name.Digest); ok {
			dig = d.DigestStr()
		} else {
			desc, err := c.puller.Head(ctx, ref)
			switch {
			case err == nil:
				dig = desc.Digest.String()
			case isNetworkError(err) || isStatus(err, 401, 403, 404):
				return manifestDoc{}, registryError(ref, r.String(), c.attempts(), err)
			}
			// Other HEAD failures (some registries do not answer HEAD):
			// fall through to GET.
		}
		if dig != "" && c.store.has(dig, -1) {
			if b, err := c.store.readAll(dig); err == nil {
				return manifestDoc{raw: b, mediaType: sniffMediaType(b), digest: dig}, nil
			}
		}
	}
	desc, err := c.puller.Get(ctx, ref)
	delay := c.o.retryDelay
	for attempt := 1; err != nil && brokenBody(err) && attempt < c.attempts() && ctx.Err() == nil; attempt++ {
		if serr := stall.Sleep(ctx, delay); serr != nil {
			break
		}
		delay *= 2
		desc, err = c.puller.Get(ctx, ref)
	}
	if err != nil {
		return manifestDoc{}, registryError(ref, r.String(), c.attempts(), err)
	}
	doc := manifestDoc{raw: desc.Manifest, mediaType: desc.MediaType, digest: desc.Digest.String()}
	if c.store != nil {
		if err := c.store.putBytes(doc.digest, doc.raw); err != nil {
			return manifestDoc{}, fmt.Errorf("image %s: %w", r, err)
		}
	}
	return doc, nil
}

func isStatus(err error, codes ...int) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, c := range codes {
		if terr.StatusCode == c {
			return true
		}
	}
	return false
}

// sniffMediaType finds the media type of a cached manifest: its mediaType
// field (always present in Docker manifests, usually in OCI ones), else an
// OCI index when it lists manifests, else an OCI image manifest.
func sniffMediaType(b []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(b, &probe) == nil {
		if probe.MediaType != "" {
			return probe.MediaType
		}
		if probe.Manifests != nil {
			return types.OCIImageIndex
		}
	}
	return types.OCIManifestSchema1
}

// config reads an image config blob, from the store when there is one
// (fetching it into the store when missing).
func (c *client) config(ctx context.Context, r imageRef, desc v1.Descriptor) (*v1.ConfigFile, error) {
	if desc.Size > maxConfigSize {
		return nil, fmt.Errorf("image %s: config %s is %d bytes, more than the %d allowed", r, desc.Digest, desc.Size, maxConfigSize)
	}
	dig := desc.Digest.String()
	var raw []byte
	if c.store != nil {
		if err := c.fetchBlob(ctx, r, dig, desc.Size, nil); err != nil {
			return nil, err
		}
		b, err := c.store.readAll(dig)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", r, err)
		}
		raw = b
	} else {
		rc, err := c.openBlob(ctx, r, dig)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, desc.Size+1))
		if err != nil {
			return nil, registryError(r.ref, r.String(), c.attempts(), err)
		}
		if int64(len(b)) > desc.Size {
			return nil, fmt.Errorf("image %s: config %s: the registry sent more than the %d bytes the manifest declares: the registry serves a broken image", r, dig, desc.Size)
		}
		if got := sha256Digest(b); got != dig {
			return nil, fmt.Errorf("image %s: config has digest %s, the manifest says %s: the registry serves a broken image", r, got, dig)
		}
		raw = b
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image %s: parse config %s: %w", r, dig, err)
	}
	return cf, nil
}

// openBlob starts the download of a blob of r's repository.
func (c *client) openBlob(ctx context.Context, r imageRef, digest string) (io.ReadCloser, error) {
	at, err := r.at(digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: blob %s: %w", r, digest, err)
	}
	l, err := c.puller.Layer(ctx, at)
	if err != nil {
		return nil, registryError(at, r.String(), c.attempts(), err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, registryError(at, r.String(), c.attempts(), err)
	}
	return rc, nil
}

// fetchBlob downloads a blob into the store unless it is there already.
// The download is cut at the size the blob's descriptor declares (the
// registry's Content-Length is not trusted for that), and one whose body
// stalls or breaks off is started again, up to WithRetries times.
func (c *client) fetchBlob(ctx context.Context, r imageRef, digest string, size int64, meter *progressMeter) error {
	if size < 0 {
		return fmt.Errorf("image %s: blob %s has size %d in its manifest: the registry serves a broken image", r, digest, size)
	}
	if c.store.has(digest, size) {
		return nil
	}
	delay := c.o.retryDelay
	for attempt := 1; ; attempt++ {
		rc, err := c.openBlob(ctx, r, digest) // retried by the registry client
		if err != nil {
			return err
		}
		// openBlob's reader checks the digest itself; put checks the size.
		err = c.store.putVerified(digest, size, meter.reader(rc, r.String(), digest))
		rc.Close()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("image %s: %w", r, context.Cause(ctx))
		case !retryable(err) || attempt >= c.attempts():
			if isNetworkError(err) {
				return registryError(r.ref, r.String(), attempt, err)
			}
			return fmt.Errorf("image %s: %w", r, err)
		}
		if err := stall.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("image %s: %w", r, err)
		}
		delay *= 2
	}
}

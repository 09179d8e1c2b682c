package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/ferry-k3s/ferry/bundle/images"
	"github.com/ferry-k3s/ferry/internal/atomicfile"
)

// archive is an image archive the bundle carries. Only its size and
// sha256 are kept (in the cache, as JSON): the archive is a deterministic
// function of the pinned images, so open writes it again from the image
// blob cache straight into the bundle. Writing it to a file first would
// cost a write and a read of every layer (measured: about a second per
// 600 MiB of layers on the benchmark machine).
type archive struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`

	open func() (io.ReadCloser, error)
	// hashed is true when this run computed SHA256 (see bundle.Source.Hashed).
	hashed bool
}

// imageArchive returns arch's image archive, downloading what the blob
// cache lacks and hashing the archive (without storing it) when its digest
// is not cached yet. A rebuild with the same images reads no blob here.
func imageArchive(ctx context.Context, o *Options, c *clients, arch string, imgs []images.Resolved) (*archive, error) {
	key := sha256.New()
	fmt.Fprintf(key, "ferry-images v1 %s\n", arch)
	for _, im := range imgs {
		fmt.Fprintf(key, "%s@%s\n", im.Ref, im.Digest)
	}
	dir := filepath.Join(o.CacheDir, "archives")
	path := filepath.Join(dir, hex.EncodeToString(key.Sum(nil))+".json")
	// The stream need not re-hash each blob. Either this run's hashing pass
	// below just read (and, for blobs from the cache, re-hashed) every blob,
	// and the source is marked hashed; or the digest comes from the cache
	// and the bundle writer checks the whole archive against it.
	stream := append(slices.Clone(c.images), images.WithoutCacheRehash())
	a := &archive{open: func() (io.ReadCloser, error) { return streamArchive(ctx, imgs, stream), nil }}
	b, err := os.ReadFile(path)
	switch {
	case err == nil && json.Unmarshal(b, a) == nil && len(a.SHA256) == 64 && a.Size > 0:
		o.logf("images for %s: archive digest reused from cache (%d MiB)", arch, a.Size>>20)
		return a, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("image archive for %s: %w", arch, err)
	}
	h := sha256.New()
	res, err := images.WriteArchive(ctx, h, imgs, c.images...)
	if err != nil {
		if ctx.Err() != nil { // say why: a signal, a failed release download
			err = context.Cause(ctx)
		}
		return nil, fmt.Errorf("image archive for %s: %w", arch, err)
	}
	a.SHA256, a.Size, a.hashed = hex.EncodeToString(h.Sum(nil)), res.Bytes, true
	if err := writeCacheJSON(dir, path, a); err != nil {
		return nil, fmt.Errorf("image archive for %s: %w", arch, err)
	}
	o.logf("images for %s: %d images, %d layers (%d shared), %d MiB", arch, len(res.Images), res.Layers, res.SharedLayers, res.Bytes>>20)
	return a, nil
}

// writeCacheJSON writes v to path as JSON through a temporary file, so a
// reader never sees half of it.
func writeCacheJSON(dir, path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// streamArchive writes the archive into a pipe from a goroutine; the
// bundle writer checks its size and sha256 against the cached digest as it
// reads.
func streamArchive(ctx context.Context, imgs []images.Resolved, opts []images.Option) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := images.WriteArchive(ctx, pw, imgs, opts...)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return &pipeSource{pr: pr, done: done}
}

type pipeSource struct {
	pr   *io.PipeReader
	done chan struct{}
}

func (p *pipeSource) Read(b []byte) (int, error) { return p.pr.Read(b) }

// Close stops the writer (if the reader gave up early) and waits for it.
func (p *pipeSource) Close() error {
	p.pr.CloseWithError(errors.New("image archive: reader closed"))
	<-p.done
	return nil
}

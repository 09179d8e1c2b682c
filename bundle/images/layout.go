package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations containerd reads from an imported OCI layout's index.json.
const (
	// annotationImageName is the full image name containerd gives the
	// image on import (ctr and k3s both honour it).
	annotationImageName = "io.containerd.image.name"
	// annotationRefName is the OCI reference name: the tag alone.
	annotationRefName = "org.opencontainers.image.ref.name"
)

// epoch is the modification time of every archive entry, so that the same
// images give the same bytes.
var epoch = time.Unix(0, 0).UTC()

// dockerManifest is one entry of a Docker manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func blobPath(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

// writeLayout writes the archive: blobs/ (sorted by digest), index.json,
// manifest.json, oci-layout; entries in byte order of their names, like
// `docker save`. Each blob is copied once ready says it is in the store;
// blobs for which rehash is true are hashed again as they are copied. It
// returns the bytes written.
func writeLayout(ctx context.Context, w io.Writer, st *store, pins []*pinned, names map[string]string, blobs map[string]*blobNeed, rehash func(digest string) bool, ready func(ctx context.Context, digest string) error) (int64, error) {
	byDigest := map[string]*pinned{}
	for _, p := range pins {
		byDigest[p.doc.digest] = p
	}
	index, err := indexJSON(byDigest, names)
	if err != nil {
		return 0, err
	}
	dockerJSON, err := dockerManifestJSON(pins, names)
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: w}
	tw := tar.NewWriter(cw)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return cw.n, fmt.Errorf("write image archive: %w", err)
		}
	}
	digests := make([]string, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		if err := ctx.Err(); err != nil {
			return cw.n, err
		}
		if err := ready(ctx, d); err != nil {
			return cw.n, err
		}
		if err := copyBlob(tw, st, d, blobs[d].size, rehash(d)); err != nil {
			return cw.n, err
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"index.json", index},
		{"manifest.json", dockerJSON},
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	} {
		if err := writeFile(tw, f.name, f.data); err != nil {
			return cw.n, err
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, fmt.Errorf("write image archive: %w", err)
	}
	return cw.n, nil
}

// indexJSON is the OCI index naming every image: one entry per name,
// sorted by name.
func indexJSON(byDigest map[string]*pinned, names map[string]string) ([]byte, error) {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	for _, n := range sorted {
		p := byDigest[names[n]]
		ann := map[string]string{annotationImageName: n}
		if r, err := parseRef(n); err == nil && r.dig == "" && r.tag != "" {
			ann[annotationRefName] = r.tag
		}
		idx.Manifests = append(idx.Manifests, v1.Descriptor{
			MediaType:   p.doc.mediaType,
			Size:        int64(len(p.doc.raw)),
			Digest:      mustHash(p.doc.digest),
			Annotations: ann,
			Platform:    p.platform,
		})
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return nil, fmt.Errorf("write image archive index: %w", err)
	}
	return b, nil
}

// dockerManifestJSON is the Docker manifest.json: one entry per distinct
// manifest (sorted by digest) with its tag-form names as RepoTags.
func dockerManifestJSON(pins []*pinned, names map[string]string) ([]byte, error) {
	out := []dockerManifest{}
	for _, p := range pins {
		dm := dockerManifest{Config: blobPath(p.manifest.Config.Digest.String()), RepoTags: []string{}, Layers: []string{}}
		for _, l := range p.manifest.Layers {
			dm.Layers = append(dm.Layers, blobPath(l.Digest.String()))
		}
		for n, d := range names {
			if d == p.doc.digest && !strings.Contains(n, "@") {
				dm.RepoTags = append(dm.RepoTags, n)
			}
		}
		slices.Sort(dm.RepoTags)
		out = append(out, dm)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("write image archive manifest.json: %w", err)
	}
	return b, nil
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644, ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write image archive %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write image archive %s: %w", name, err)
	}
	return nil
}

// copyBlob streams a blob from the store into the tar, checking its digest
// on the way when rehash is set: the store was checked when written, this
// catches damage since. Without rehash only the size is checked.
func copyBlob(tw *tar.Writer, st *store, digest string, size int64, rehash bool) error {
	f, err := st.open(digest)
	if err != nil {
		return fmt.Errorf("write image archive: blob %s: %w", digest, err)
	}
	defer f.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobPath(digest), Size: size, Mode: 0o644, ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write image archive: blob %s: %w", digest, err)
	}
	var src io.Reader = io.LimitReader(f, size)
	h := sha256.New()
	if rehash {
		src = io.TeeReader(src, h)
	}
	n, err := io.Copy(tw, src)
	if err != nil {
		return fmt.Errorf("write image archive: blob %s: %w", digest, err)
	}
	got := digest
	if rehash {
		got = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	if n != size || got != digest {
		return fmt.Errorf("write image archive: cached blob %s is damaged (%d bytes, digest %s): delete %s and build again", digest, n, got, f.Name())
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

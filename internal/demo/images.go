package demo

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// Repos are the demo images (repository:tag under the demo registry) that
// the demo charts and spec use.
var Repos = []string{
	"longhornio/longhorn-manager:v1.7.2",
	"longhornio/longhorn-engine:v1.7.2",
	"longhornio/longhorn-instance-manager:v1.7.2",
	"longhornio/longhorn-share-manager:v1.7.2",
	"longhornio/support-bundle-kit:v0.0.42",
	"longhornio/csi-attacher:v4.6.1",
	"library/busybox:1.36",
	"sig-storage/nfs-subdirectory-external-provisioner:v4.0.2",
	"library/nginx:1.27",
}

// ExtraRepo is the name of the i-th extra image (Options.ExtraImages),
// Longhorn-shaped: it shares the base layer with every other image.
func ExtraRepo(i int) string { return fmt.Sprintf("longhornio/longhorn-extra-%02d:v1.7.2", i) }

var words = strings.Fields(`apiVersion kind metadata name namespace spec containers image args env value
	volumeMounts mountPath readOnly resources limits cpu memory requests securityContext privileged
	#!/bin/sh set -e exec /usr/bin/longhorn-manager daemon --engine-image --instance-manager-image
	ELF GLIBC_2.34 libc.so.6 libpthread.so.0 __libc_start_main main.main runtime.gopanic sync.(*Mutex).Lock`)

// textFile returns n bytes of text that compresses like real binaries'
// and configs' contents do (not random bytes).
func textFile(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 32)
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(9) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

// binaryFile returns n bytes shaped like machine code and data sections:
// little-endian words whose high bytes are mostly zero or repeat, with
// short runs of string-table text. gzip shrinks it to about half, as it
// does real executables; it is not random bytes.
func binaryFile(rng *rand.Rand, n int) []byte {
	b := make([]byte, 0, n+64)
	for len(b) < n {
		if rng.IntN(16) == 0 {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, 0)
			continue
		}
		v := rng.Uint64()
		switch rng.IntN(4) {
		case 0: // a small integer or offset
			v &= 0xffff
		case 1: // a pointer into the text segment
			v = 0x00000000_00400000 | v&0x000fffff
		case 2: // an instruction-ish word
			v &= 0x00ffffff_ffffffff
		}
		for k := 0; k < 8; k++ {
			b = append(b, byte(v>>(8*k)))
		}
	}
	return b[:n]
}

// ImageSizes sets how big the generated images are.
type ImageSizes struct {
	// BaseFiles and FileSize (bytes) shape the base layer every image of
	// an arch shares.
	BaseFiles, FileSize int
	// AppFiles shapes each image's own layer (files of FileSize bytes).
	AppFiles int
	// BinaryEvery makes every BinaryEvery-th file of a layer
	// executable-like (see binaryFile) rather than text; 0 makes all files
	// text. Real image layers are mostly executables and libraries.
	BinaryEvery int
}

// DefaultSizes keep the demo quick: about 200 KiB of layers per image.
var DefaultSizes = ImageSizes{BaseFiles: 8, FileSize: 16 << 10, AppFiles: 4}

// gzLayer is a gzip layer generated once and held in memory, with its
// digests computed while it was made (tarball.LayerFromOpener would
// compress it again on every read).
type gzLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

func (l *gzLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *gzLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *gzLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *gzLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *gzLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz))
}
func (l *gzLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

// layer makes a gzip tar layer of files files of size bytes each, seeded
// so the same seed gives the same layer. Every binaryEvery-th file is
// executable-like (0: none).
func layer(seed uint64, prefix string, files, size, binaryEvery int) (v1.Layer, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for i := range files {
		body := textFile
		if binaryEvery > 0 && i%binaryEvery == 0 {
			body = binaryFile
		}
		b := body(rng, size)
		hdr := &tar.Header{Name: fmt.Sprintf("%s/file-%03d", prefix, i), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l := &gzLayer{gz: gz.Bytes()}
	l.digest = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(l.gz))}
	l.diffID = v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(raw.Bytes()))}
	return l, nil
}

// index builds a multi-arch image index for repo: every platform image
// shares the arch's base layer and has its own app layer.
func index(repo string, arches []string, sz ImageSizes, bases map[string]v1.Layer) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for ai, arch := range arches {
		app, err := layer(hash(repo)+uint64(ai), "opt/"+strings.ReplaceAll(repo, "/", "-"), sz.AppFiles, sz.FileSize, sz.BinaryEvery)
		if err != nil {
			return nil, err
		}
		img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), bases[arch], app)
		if err != nil {
			return nil, err
		}
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if arch == "arm" {
			cf.Variant = "v7"
		}
		cf.Config.Entrypoint = []string{"/opt/" + strings.ReplaceAll(repo, "/", "-") + "/file-000"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		plat := &v1.Platform{OS: "linux", Architecture: arch}
		if arch == "arm" {
			plat.Variant = "v7"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx, nil
}

func hash(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

package demo

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

var words = strings.Fields(`apiVersion kind metadata name namespace spec containers image args env value
	volumeMounts mountPath readOnly resources limits cpu memory requests securityContext privileged
	#!/bin/sh set -e exec /usr/bin/longhorn-manager daemon --engine-image --instance-manager-image
	ELF GLIBC_2.34 libc.so.6 libpthread.so.0 __libc_start_main main.main runtime.gopanic sync.(*Mutex).Lock`)

// textFile returns n bytes of text that compresses like real binaries'
// and configs' contents do (not random bytes).
func textFile(rng *rand.Rand, n int) []byte {
	var b bytes.Buffer
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

// layer makes a tar layer of files files of size bytes each, seeded so the
// same seed gives the same layer.
func layer(seed uint64, prefix string, files, size int) (v1.Layer, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range files {
		body := textFile(rng, size)
		hdr := &tar.Header{Name: fmt.Sprintf("%s/file-%03d", prefix, i), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// ImageSizes sets how big the generated images are.
type ImageSizes struct {
	// BaseFiles and FileSize shape the base layer every image shares.
	BaseFiles, FileSize int
	// AppFiles shapes each image's own layer.
	AppFiles int
}

// DefaultSizes keep the demo quick: about 200 KiB of layers per image.
var DefaultSizes = ImageSizes{BaseFiles: 8, FileSize: 16 << 10, AppFiles: 4}

// index builds a multi-arch image index for repo: every platform image
// shares the arch's base layer and has its own app layer.
func index(repo string, arches []string, sz ImageSizes, bases map[string]v1.Layer) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for ai, arch := range arches {
		app, err := layer(hash(repo)+uint64(ai), "opt/"+strings.ReplaceAll(repo, "/", "-"), sz.AppFiles, sz.FileSize)
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

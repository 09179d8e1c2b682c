package releasetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle/release"
)

// DefaultBinarySize is the size in bytes of the stand-in k3s binary when
// Options.BinarySize is 0.
const DefaultBinarySize = 4096

// ImageRef is the image the fixture's airgap tarball holds (one per arch,
// for that arch). It is deliberately not a real k3s image.
const ImageRef = "docker.io/ferry-k3s/airgap-fixture:1"

// Options shapes a fake release. The zero value gives small, correct
// assets.
type Options struct {
	// BinarySize is the size in bytes of the stand-in k3s binary, a shell
	// script that prints the version; at least the script's length.
	// Default: DefaultBinarySize.
	BinarySize int64
	// AirgapPadding adds this many bytes of incompressible data to the
	// airgap image's layer (for benchmarks). Default: 0. The content is
	// built in memory.
	AirgapPadding int64
	// CorruptChecksum names an asset (e.g. "k3s-arm64") whose line in the
	// checksum list carries a wrong digest.
	CorruptChecksum string
	// OmitChecksum names an asset left out of the checksum list.
	OmitChecksum string
}

// Tree is a fake release written by Write.
type Tree struct {
	// Dir holds one directory per version, named literally
	// (v1.31.4+k3s1); use it as a file:// base URL.
	Dir string
	// Version is the release version.
	Version string
	// Sums maps every asset name (k3s, k3s-arm64,
	// k3s-airgap-images-arm.tar.zst, sha256sum-amd64.txt, ...) to its true
	// sha256, whatever the checksum list claims.
	Sums map[string]string
	// Sizes maps every asset name to its size in bytes.
	Sizes map[string]int64
}

// Write lays out a fake release of version for arches under dir:
// dir/<version>/{k3s binary, k3s-airgap-images-<arch>.tar.zst,
// sha256sum-<arch>.txt}. The same arguments give the same bytes.
func Write(dir, version string, arches []string, opts Options) (*Tree, error) {
	if err := release.CheckVersion(version); err != nil {
		return nil, err
	}
	if len(arches) == 0 {
		return nil, fmt.Errorf("write fake release: no arches: name at least one of %s", strings.Join(release.Arches, ", "))
	}
	vdir := filepath.Join(dir, version)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return nil, fmt.Errorf("write fake release: %w", err)
	}
	t := &Tree{Dir: dir, Version: version, Sums: map[string]string{}, Sizes: map[string]int64{}}
	put := func(name string, b []byte) error {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			return fmt.Errorf("write fake release: %w", err)
		}
		sum := sha256.Sum256(b)
		t.Sums[name] = hex.EncodeToString(sum[:])
		t.Sizes[name] = int64(len(b))
		return nil
	}
	for _, arch := range arches {
		names, err := release.AssetNames(arch)
		if err != nil {
			return nil, err
		}
		bin, err := binary(version, arch, opts.BinarySize)
		if err != nil {
			return nil, err
		}
		if err := put(names.Binary, bin); err != nil {
			return nil, err
		}
		air, err := Airgap(version, arch, opts.AirgapPadding)
		if err != nil {
			return nil, err
		}
		if err := put(names.Airgap, air); err != nil {
			return nil, err
		}
		var list strings.Builder
		for _, n := range []string{names.Binary, names.Airgap} {
			sum := t.Sums[n]
			switch n {
			case opts.OmitChecksum:
				continue
			case opts.CorruptChecksum:
				sum = strings.Repeat("0", 64)
			}
			fmt.Fprintf(&list, "%s  %s\n", sum, n)
		}
		// Real lists name more files than a bundle carries.
		fmt.Fprintf(&list, "%s  k3s-images-%s.txt\n", strings.Repeat("a", 64), arch)
		if err := put(names.Checksums, []byte(list.String())); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// binary returns a shell script standing in for k3s, padded to size.
func binary(version, arch string, size int64) ([]byte, error) {
	if size == 0 {
		size = DefaultBinarySize
	}
	script := fmt.Sprintf("#!/bin/sh\n# ferry test fixture, not k3s\necho \"k3s version %s (fixture %s)\"\nexit 0\n", version, arch)
	if size < int64(len(script)) {
		return nil, fmt.Errorf("write fake release: binary size %d is below the %d-byte script: give a larger BinarySize", size, len(script))
	}
	b := make([]byte, 0, size)
	b = append(b, script...)
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	const hexdigits = "0123456789abcdef"
	for int64(len(b)) < size {
		if len(b)%64 == 0 || int64(len(b)) == size-1 {
			b = append(b, '\n')
			continue
		}
		if len(b)%64 == 1 {
			b = append(b, '#')
			continue
		}
		b = append(b, hexdigits[rng.IntN(16)])
	}
	return b, nil
}

// Airgap returns a k3s-style airgap image tarball for arch: a docker-archive
// tar (as k3s imports from agent/images/) holding ImageRef, compressed with
// zstd. padding adds incompressible bytes to the image's layer. The same
// arguments give the same bytes.
func Airgap(version, arch string, padding int64) ([]byte, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	files := []struct {
		name string
		body []byte
	}{
		{"etc/ferry-fixture", []byte(fmt.Sprintf("k3s %s %s\n", version, arch))},
		{"padding", pad(padding)},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(layer.Bytes(), types.DockerUncompressedLayer))
	if err != nil {
		return nil, fmt.Errorf("build fixture image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if arch == "arm" {
		cf.Variant = "v7"
	}
	cf.Config.Cmd = []string{"/bin/true"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	ref, err := name.ParseReference(ImageRef)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	if err := tarball.Write(ref, img, zw); err != nil {
		zw.Close()
		return nil, fmt.Errorf("write fixture image archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// pad returns n deterministic, incompressible bytes.
func pad(n int64) []byte {
	b := make([]byte, n)
	var seed [32]byte
	copy(seed[:], "ferry airgap fixture padding")
	rand.NewChaCha8(seed).Read(b)
	return b
}

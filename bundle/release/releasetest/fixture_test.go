package releasetest_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle/release"
	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

const version = "v1.31.4+k3s1"

func TestWriteIsDeterministicAndComplete(t *testing.T) {
	opts := releasetest.Options{BinarySize: 10000, AirgapPadding: 2048}
	a, err := releasetest.Write(t.TempDir(), version, release.Arches, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := releasetest.Write(t.TempDir(), version, release.Arches, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range release.Arches {
		names, _ := release.AssetNames(arch)
		for _, n := range []string{names.Binary, names.Airgap, names.Checksums} {
			if a.Sums[n] == "" || a.Sums[n] != b.Sums[n] {
				t.Fatalf("%s: sums %q and %q; want equal and present", n, a.Sums[n], b.Sums[n])
			}
			if _, err := os.Stat(filepath.Join(a.Dir, version, n)); err != nil {
				t.Fatal(err)
			}
		}
		if a.Sizes[names.Binary] != 10000 {
			t.Fatalf("%s is %d bytes, want 10000", names.Binary, a.Sizes[names.Binary])
		}
		list, err := os.Open(filepath.Join(a.Dir, version, names.Checksums))
		if err != nil {
			t.Fatal(err)
		}
		sums, err := release.ParseChecksums(list)
		list.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sums[names.Binary] != a.Sums[names.Binary] || sums[names.Airgap] != a.Sums[names.Airgap] {
			t.Fatalf("%s disagrees with the files: %v vs %v", names.Checksums, sums, a.Sums)
		}
	}
}

func TestAirgapIsARealImageArchive(t *testing.T) {
	for _, arch := range release.Arches {
		t.Run(arch, func(t *testing.T) {
			zst, err := releasetest.Airgap(version, arch, 1000)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := zstd.NewReader(bytes.NewReader(zst))
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			tarBytes, err := io.ReadAll(dec)
			if err != nil {
				t.Fatalf("airgap tarball is not zstd: %v", err)
			}
			tag, _ := name.NewTag(releasetest.ImageRef)
			img, err := tarball.Image(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tarBytes)), nil }, &tag)
			if err != nil {
				t.Fatalf("airgap tarball is not a docker archive holding %s: %v", releasetest.ImageRef, err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.Architecture != arch || cf.OS != "linux" {
				t.Fatalf("image is %s/%s, want linux/%s", cf.OS, cf.Architecture, arch)
			}
			layers, err := img.Layers()
			if err != nil || len(layers) != 1 {
				t.Fatalf("%d layers, %v; want 1", len(layers), err)
			}
		})
	}
}

func TestBinaryIsAScript(t *testing.T) {
	tree, err := releasetest.Write(t.TempDir(), version, []string{"amd64"}, releasetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(tree.Dir, version, "k3s"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("#!/bin/sh\n")) || !bytes.Contains(b, []byte(version)) || len(b) != releasetest.DefaultBinarySize {
		t.Fatalf("stand-in binary: %d bytes starting %q", len(b), b[:20])
	}
	if _, err := releasetest.Write(t.TempDir(), version, []string{"amd64"}, releasetest.Options{BinarySize: 10}); err == nil || !strings.Contains(err.Error(), "give a larger BinarySize") {
		t.Fatalf("tiny binary: error %v", err)
	}
}

func TestServerCountsAndServesRanges(t *testing.T) {
	srv := releasetest.NewServer(t, version, []string{"arm"}, releasetest.Options{CorruptChecksum: "k3s-armhf"})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1.31.4%2Bk3s1/k3s-armhf", nil)
	req.Header.Set("Range", "bytes=10-")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || int64(len(body)) != srv.Tree.Sizes["k3s-armhf"]-10 {
		t.Fatalf("HTTP %d with %d bytes; want 206 with the rest", resp.StatusCode, len(body))
	}
	resp, err = srv.Client().Get(srv.URL + "/v1.31.4%2Bk3s1/sha256sum-arm.txt")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(list), strings.Repeat("0", 64)+"  k3s-armhf") {
		t.Fatalf("checksum list not corrupted as asked:\n%s", list)
	}
	if srv.Requests() != 2 || srv.Paths()[0] != "/"+version+"/k3s-armhf" {
		t.Fatalf("server recorded %v", srv.Paths())
	}
}

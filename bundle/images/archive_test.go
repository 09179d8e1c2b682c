package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// amd64Set resolves the fixture's images for amd64, one of them twice (by
// tag and by index digest).
func amd64Set(t *testing.T, f *fixture, opts ...Option) []Resolved {
	t.Helper()
	refs := []string{
		f.reg.ref("app:1"),
		f.reg.ref("tool:2"),
		f.reg.ref("single:1"),
		f.reg.ref("app@" + digestOf(t, f.idx["app:1"])),
	}
	res, err := Resolve(context.Background(), refs, "amd64", fastOpts(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// untar extracts an archive into a new directory, checking that entry
// names are unique, sorted and dated at the epoch.
func untar(t *testing.T, b []byte) string {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if !hdr.ModTime.Equal(epoch) || hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s: mtime %v uid %d gid %d, want epoch and root", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %v", names)
	}
	if c := slices.Compact(slices.Clone(names)); len(c) != len(names) {
		t.Errorf("duplicate entries in %v", names)
	}
	return dir
}

func TestWriteArchive(t *testing.T) {
	f := newFixture(t)
	res := amd64Set(t, f)
	var buf bytes.Buffer
	got, err := WriteArchive(context.Background(), &buf, res, fastOpts(WithCacheDir(t.TempDir()))...)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bytes != int64(buf.Len()) {
		t.Errorf("Bytes = %d, wrote %d", got.Bytes, buf.Len())
	}
	// 3 distinct images: 3 manifests + 3 configs + 1 shared base + 3 own layers.
	if got.Blobs != 10 || got.Layers != 4 || got.SharedLayers != 1 {
		t.Errorf("Blobs, Layers, SharedLayers = %d, %d, %d; want 10, 4, 1", got.Blobs, got.Layers, got.SharedLayers)
	}
	if len(got.Images) != len(res) {
		t.Fatalf("%d images in result, want %d", len(got.Images), len(res))
	}
	for i, im := range got.Images {
		if im.Ref != res[i].Ref || im.Digest != res[i].Digest || im.Arch != "amd64" {
			t.Errorf("image %d = %+v, want %+v", i, im, res[i])
		}
	}

	want := map[string]v1.Image{ // name in the archive -> registry image
		f.reg.ref("app:1"):                              f.imgs["app:1 linux/amd64"],
		f.reg.ref("tool:2"):                             f.imgs["tool:2 linux/amd64"],
		f.reg.ref("single:1"):                           f.imgs["single:1 linux/amd64"],
		f.reg.ref("app@" + digestOf(t, f.idx["app:1"])): f.imgs["app:1 linux/amd64"],
	}
	dir := untar(t, buf.Bytes())

	t.Run("oci layout", func(t *testing.T) {
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != len(want) {
			t.Fatalf("index has %d entries, want %d", len(im.Manifests), len(want))
		}
		for _, d := range im.Manifests {
			n := d.Annotations[annotationImageName]
			reg, ok := want[n]
			if !ok {
				t.Errorf("unexpected image name %q", n)
				continue
			}
			if d.Platform == nil || d.Platform.Architecture != "amd64" || d.Platform.OS != "linux" {
				t.Errorf("%s: platform %v, want linux/amd64", n, d.Platform)
			}
			if tag := d.Annotations[annotationRefName]; strings.Contains(n, "@") == (tag != "") {
				t.Errorf("%s: ref.name %q", n, tag)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			sameImage(t, n, img, reg, true)
		}
	})

	t.Run("docker manifest.json", func(t *testing.T) {
		opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }
		for n, reg := range want {
			if strings.Contains(n, "@") {
				continue // RepoTags holds tags only
			}
			tag, err := name.NewTag(n)
			if err != nil {
				t.Fatal(err)
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			// tarball synthesises its own manifest: compare config and layers.
			sameImage(t, n, img, reg, false)
		}
	})
}

// sameImage compares an image read back from an archive with the
// registry's: config and layer digests, and the manifest digest when the
// reader keeps the manifest.
func sameImage(t *testing.T, n string, got, want v1.Image, manifest bool) {
	t.Helper()
	if manifest && digestOf(t, got) != digestOf(t, want) {
		t.Errorf("%s: manifest %s, registry has %s", n, digestOf(t, got), digestOf(t, want))
	}
	gc, err := got.ConfigName()
	if err != nil {
		t.Fatalf("%s: %v", n, err)
	}
	wc, _ := want.ConfigName()
	if gc != wc {
		t.Errorf("%s: config %s, registry has %s", n, gc, wc)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	wl, _ := want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("%s: %d layers, registry has %d", n, len(gl), len(wl))
	}
	for i := range gl {
		if a, b := digestOf(t, gl[i]), digestOf(t, wl[i]); a != b {
			t.Errorf("%s: layer %d is %s, registry has %s", n, i, a, b)
		}
		// Reading the layer through checks its content against its digest.
		rc, err := gl[i].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Errorf("%s: layer %d: %v", n, i, err)
		}
		rc.Close()
	}
}

func TestWriteArchiveDeterministic(t *testing.T) {
	f := newFixture(t)
	res := amd64Set(t, f)
	shuffled := slices.Clone(res)
	slices.Reverse(shuffled)
	tests := []struct {
		name string
		imgs []Resolved
		opts []Option
	}{
		{name: "one job, fresh cache", imgs: res, opts: []Option{WithJobs(1), WithCacheDir(t.TempDir())}},
		{name: "eight jobs, no cache", imgs: res, opts: []Option{WithJobs(8)}},
		{name: "input reversed", imgs: shuffled, opts: []Option{WithJobs(4), WithCacheDir(t.TempDir())}},
	}
	var first []byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := WriteArchive(context.Background(), &buf, tt.imgs, fastOpts(tt.opts...)...); err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = buf.Bytes()
				return
			}
			if !bytes.Equal(first, buf.Bytes()) {
				t.Errorf("archive differs from the first one (%d vs %d bytes)", buf.Len(), len(first))
			}
		})
	}
}

func TestCacheRebuildDownloadsNothing(t *testing.T) {
	f := newFixture(t)
	cache := t.TempDir()
	ctx := context.Background()
	build := func(refs []string) []byte {
		t.Helper()
		res, err := Resolve(ctx, refs, "arm64", fastOpts(WithCacheDir(cache))...)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := WriteArchive(ctx, &buf, res, fastOpts(WithCacheDir(cache))...); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	tags := []string{f.reg.ref("app:1"), f.reg.ref("tool:2")}
	pinned := []string{
		f.reg.ref("app:1@" + digestOf(t, f.idx["app:1"])),
		f.reg.ref("tool:2@" + digestOf(t, f.idx["tool:2"])),
	}

	build(tags)
	if f.reg.count("GET blob") == 0 || f.reg.count("GET manifest") == 0 {
		t.Fatalf("first build fetched nothing: %v", f.reg.hits)
	}

	t.Run("tags are asked again, content is not", func(t *testing.T) {
		f.reg.reset()
		build(tags)
		if n := f.reg.count("HEAD manifest"); n != len(tags) {
			t.Errorf("%d manifest HEADs, want %d (tags are never trusted from the cache)", n, len(tags))
		}
		if n, m := f.reg.count("GET blob"), f.reg.count("GET manifest"); n+m != 0 {
			t.Errorf("%d blob and %d manifest GETs, want none", n, m)
		}
	})

	t.Run("pinned digests need no registry", func(t *testing.T) {
		f.reg.reset()
		b := build(pinned)
		if n := f.reg.total(); n != 0 {
			t.Errorf("%d requests (%v), want none", n, f.reg.hits)
		}
		for _, n := range []string{f.reg.ref("app:1"), f.reg.ref("app@" + digestOf(t, f.idx["app:1"]))} {
			if !bytes.Contains(b, []byte(`"`+n+`"`)) {
				t.Errorf("archive does not name %s", n)
			}
		}
	})

	t.Run("damaged cache blob is fetched again", func(t *testing.T) {
		blobs, err := filepath.Glob(filepath.Join(cache, "blobs", "sha256", "*"))
		if err != nil || len(blobs) == 0 {
			t.Fatalf("no cached blobs: %v", err)
		}
		for _, b := range blobs {
			if err := os.WriteFile(b, []byte("damaged"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		f.reg.reset()
		fresh := build(pinned)
		if f.reg.count("GET blob") == 0 {
			t.Error("damaged blobs were not fetched again")
		}
		f.reg.reset()
		if again := build(pinned); !bytes.Equal(fresh, again) || f.reg.total() != 0 {
			t.Errorf("rebuild after repair: equal=%v requests=%d", bytes.Equal(fresh, again), f.reg.total())
		}
	})
}

func TestWriteArchiveProgress(t *testing.T) {
	f := newFixture(t)
	res := amd64Set(t, f)

	t.Run("events add up", func(t *testing.T) {
		ch := make(chan Progress, 10000)
		if _, err := WriteArchive(context.Background(), io.Discard, res, fastOpts(WithProgress(ch))...); err != nil {
			t.Fatal(err)
		}
		close(ch)
		var last Progress
		n := 0
		for p := range ch {
			if p.Done < last.Done || p.Ref == "" || p.Digest == "" {
				t.Errorf("event %+v after %+v", p, last)
			}
			last = p
			n++
		}
		if n == 0 || last.Total == 0 || last.Done != last.Total {
			t.Errorf("%d events, last %+v: want Done == Total > 0", n, last)
		}
	})

	t.Run("nobody reading never blocks", func(t *testing.T) {
		ch := make(chan Progress) // unbuffered, never read
		if _, err := WriteArchive(context.Background(), io.Discard, res, fastOpts(WithProgress(ch))...); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWriteArchiveBadInput(t *testing.T) {
	f := newFixture(t)
	amd := amd64Set(t, f)
	arm, err := Resolve(context.Background(), []string{f.reg.ref("app:1")}, "arm64", fastOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	other := amd[1]
	other.Ref = amd[0].Ref // same name, another image
	tests := []struct {
		name    string
		imgs    []Resolved
		errHas  string
		wantErr error
	}{
		{name: "two architectures", imgs: []Resolved{amd[0], arm[0]}, errHas: "one archive per architecture"},
		{name: "no digest", imgs: []Resolved{{Ref: amd[0].Ref, Arch: "amd64"}}, errHas: "resolve it first"},
		{name: "bad arch", imgs: []Resolved{{Ref: amd[0].Ref, Arch: "mips", Digest: amd[0].Digest}}, errHas: "use amd64, arm64 or arm"},
		{name: "one name, two images", imgs: []Resolved{amd[0], other}, errHas: "given twice"},
		{name: "index digest", imgs: []Resolved{{Ref: amd[0].Ref, Arch: "amd64", Digest: amd[0].IndexDigest}}, errHas: "not an image manifest"},
		{name: "unknown digest", imgs: []Resolved{{Ref: amd[0].Ref, Arch: "amd64", Digest: "sha256:" + strings.Repeat("cd", 32)}}, wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := WriteArchive(context.Background(), &buf, tt.imgs, fastOpts()...)
			if err == nil {
				t.Fatal("WriteArchive succeeded")
			}
			if tt.errHas != "" && !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("error %q lacks %q", err, tt.errHas)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %q is not %v", err, tt.wantErr)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes before failing on bad input", buf.Len())
			}
		})
	}
}

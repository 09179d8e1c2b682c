package bundle_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
)

// TestWithProgress: Open reports the bytes read as the bundle streams,
// never going back, and ends at the bundle's size, for one file and for
// the parts of a split bundle.
func TestWithProgress(t *testing.T) {
	s, v := testKey(t)
	dir := t.TempDir()
	m, srcs := installable("1.4.0", 3<<20, 3)
	single, split := filepath.Join(dir, "a.ferry"), filepath.Join(dir, "b.ferry")
	writeTo(t, single, m, srcs, s)
	writeTo(t, split, m, srcs, s, bundle.WithSplit(bundle.MinPartSize))
	for _, path := range []string{single, bundle.PartPath(split, 1)} {
		var calls int
		var last, total int64
		rep, err := bundle.VerifyFile(context.Background(), path, bundle.WithVerifier(v), bundle.WithProgress(func(read, tot int64) {
			if read < last {
				t.Errorf("%s: progress went back from %d to %d", path, last, read)
			}
			calls++
			last, total = read, tot
		}))
		if err != nil {
			t.Fatal(err)
		}
		f, err := bundle.Open(context.Background(), path, bundle.WithVerifier(v))
		if err != nil {
			t.Fatal(err)
		}
		size := f.Size()
		f.Close()
		if calls < 2 || last != size || total != size || size < 3<<20 {
			t.Errorf("%s: %d calls, ended at %d of %d, bundle is %d bytes (%d parts)", path, calls, last, total, size, rep.Parts)
		}
	}
}

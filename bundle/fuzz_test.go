package bundle_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
)

// FuzzReader feeds arbitrary bytes to the streaming reader (signature
// skipped, so the fuzzer reaches the entry checks). It must never panic,
// and whatever it accepts must be exactly what the manifest declares.
func FuzzReader(f *testing.F) {
	s, _ := testKey(f)
	f.Add(writeBundle(f, testManifest(), testSources(), s))
	f.Add(writeBundle(f, testManifest(), testSources(), nil))
	files, _ := filepath.Glob(filepath.Join(repoRoot(f), "testdata", "hostile", "*.ferry"))
	for _, p := range files {
		if strings.Contains(p, "bomb") {
			continue // decompresses to tens of MiB per run: it would eat a short fuzz run
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := bundle.NewReader(context.Background(), bytes.NewReader(b), bundle.WithInsecureSkipSignature(), bundle.WithAllowExpired())
		if err != nil {
			return
		}
		defer r.Close()
		m := r.Manifest()
		var n int
		for {
			e, content, err := r.Next()
			if err == io.EOF {
				if n != len(m.Entries) {
					t.Fatalf("reader ended cleanly after %d of %d entries", n, len(m.Entries))
				}
				return
			}
			if err != nil {
				return
			}
			got, err := io.Copy(io.Discard, content)
			if err != nil {
				return
			}
			if got != e.Size {
				t.Fatalf("entry %s: read %d bytes cleanly, manifest says %d", e.Path, got, e.Size)
			}
			n++
		}
	})
}

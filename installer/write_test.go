package installer

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// LocalHost.WriteFile leaves exactly the content and mode it was given, with
// O_DIRECT and through the page cache (the fallback for file systems that
// refuse O_DIRECT), for sizes around the 4 KiB alignment and the 2 MiB
// buffers, and leaves no temporary file behind.
func TestWriteAtomicContent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 9<<20+123)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	t.Cleanup(func() { pageCacheOnly = false })
	for _, pageCache := range []bool{false, true} {
		pageCacheOnly = pageCache
		dir := t.TempDir()
		h, err := NewLocalHost(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{0, 1, 4095, 4096, 4097, 2<<20 - 1, 2 << 20, 2<<20 + 1, len(data)} {
			dst := filepath.Join(dir, "f")
			if err := h.WriteFile(context.Background(), "/f", bytes.NewReader(data[:size]), 0o640); err != nil {
				t.Fatalf("page cache only %v, size %d: %v", pageCache, size, err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data[:size]) {
				t.Fatalf("page cache only %v, size %d: file has %d bytes, not what was written", pageCache, size, len(got))
			}
			if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
				t.Fatalf("page cache only %v, size %d: mode %v, want 0640", pageCache, size, fi.Mode())
			}
		}
		if left, _ := os.ReadDir(dir); len(left) != 1 {
			t.Fatalf("page cache only %v: %d files in the directory, want 1", pageCache, len(left))
		}
	}
}

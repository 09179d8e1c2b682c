package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// Write replaces the file's content and mode and leaves no temporary file;
// a write that cannot happen leaves the old file as it was.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("content %q, want %q", b, "new")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("%d files in the directory, want 1", len(left))
	}
	if err := Write(filepath.Join(dir, "missing", "f.json"), []byte("x"), 0o644); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(sub, []byte("x"), 0o644); err == nil {
		t.Fatal("a write over a directory succeeded")
	}
	if left, _ := os.ReadDir(dir); len(left) != 2 {
		t.Fatalf("a failed rename left %d entries in the directory, want 2 (f.json, sub)", len(left))
	}
}

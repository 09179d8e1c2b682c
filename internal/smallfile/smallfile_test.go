package smallfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 11), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(small, 10); err != nil || string(b) != "0123456789" {
		t.Errorf("small file at its cap: %q, %v", b, err)
	}
	if _, err := Read(big, 10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file over its cap: %v", err)
	}
	if _, err := Read(fifo, 10); err == nil {
		t.Error("a FIFO was read")
	}
	if _, err := Read(dir, 10); err == nil {
		t.Error("a directory was read")
	}
	if _, err := Read(filepath.Join(dir, "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Read("/dev/zero", 10); err == nil {
		t.Error("a device was read")
	}
}

package service

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestDetectResolvesInsideRoot: an alternate root whose /run/systemd links
// to a directory outside it holding system/ is not taken for a booted
// systemd: the link is resolved inside the root, where nothing is.
func TestDetectResolvesInsideRoot(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(outside, "system"), 0o755)
	os.WriteFile(filepath.Join(outside, "openrc-run"), []byte("#!/bin/sh\n"), 0o755)
	os.MkdirAll(filepath.Join(root, "run"), 0o755)
	os.Symlink(outside, filepath.Join(root, "run/systemd"))
	os.Symlink("../../outside", filepath.Join(root, "sbin"))
	m, err := Detect(root, WithGetenv(func(string) string { return "" }))
	if !errors.Is(err, ErrNoManager) {
		t.Fatalf("Detect followed links out of the root: manager %v, error %v", m, err)
	}
	// Once the target exists inside the root, the same link is followed.
	os.MkdirAll(filepath.Join(root, outside, "system"), 0o755)
	if m, err := Detect(root, WithGetenv(func(string) string { return "" })); err != nil || m.Name() != "systemd" {
		t.Fatalf("Detect through a link inside the root: %v %v", m, err)
	}
}

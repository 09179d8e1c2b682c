package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
)

// TestWriteFileDiskFull writes a bundle onto a 1 MiB tmpfs: the write
// must fail with ENOSPC named in the error and leave nothing behind.
func TestWriteFileDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	s, _ := testKey(t)
	noise := make([]byte, 4<<20) // incompressible, so it cannot fit
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	path := filepath.Join(dir, "b.ferry")
	_, err := bundle.WriteFile(context.Background(), path, testManifest(), []bundle.Source{memSource("files/noise", bundle.RoleConfig, noise)}, bundle.WithSigner(s))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write onto a full disk: %v, want ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("error does not say the disk is full: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a failed write left %d files: %v", len(left), left[0].Name())
	}
}

// TestWriteFileCancelled cancels a write midway: no file is left.
func TestWriteFileCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srcs := testSources()
	// Cancel when the writer opens the third source.
	open := srcs[2].Open
	srcs[2].Open = func() (io.ReadCloser, error) { cancel(); return open() }
	_, err := bundle.WriteFile(ctx, filepath.Join(dir, "b.ferry"), testManifest(), srcs)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("a cancelled write left %v", left)
	}
}

// TestResignKeepsContent re-signs an unsigned bundle and checks every
// entry survived unchanged.
func TestResignKeepsContent(t *testing.T) {
	s, v := testKey(t)
	dir := t.TempDir()
	unsigned := writeBundle(t, testManifest(), testSources(), nil)
	out := filepath.Join(dir, "signed.ferry")
	if _, err := bundle.Resign(context.Background(), bytes.NewReader(unsigned), out, s, []bundle.ReadOption{bundle.WithInsecureSkipSignature()}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if !bytes.Equal(b, writeBundle(t, testManifest(), testSources(), s)) {
		t.Error("re-signing an unsigned bundle differs from signing at build time")
	}
	if _, err := readAll(b, bundle.WithVerifier(v)); err != nil {
		t.Fatal(err)
	}
}

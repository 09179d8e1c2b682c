package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/ferry-k3s/ferry/internal/directio"
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

// WriteFile gives the same bytes as Write into memory, whether the file
// system takes O_DIRECT (the test's temporary directory, usually) or
// refuses it or takes it differently (tmpfs).
func TestWriteFileDirectSameBytes(t *testing.T) {
	dirs := []string{t.TempDir()}
	if os.Geteuid() == 0 {
		tmpfs := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", tmpfs).CombinedOutput(); err == nil {
			defer exec.Command("umount", tmpfs).Run()
			dirs = append(dirs, tmpfs)
		} else {
			t.Logf("no tmpfs: %v %s", err, out)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	payload := make([]byte, 5*(2<<20)+777)
	for i := range payload {
		payload[i] = byte(rng.Uint32() % 7) // compressible, so the stream length is not a round number
	}
	src := bundle.Source{
		Entry: bundle.Entry{Path: "sbom.spdx.json", Size: int64(len(payload)), SHA256: hexSHA256(payload), Role: bundle.RoleSBOM},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil },
	}
	m := bundle.Manifest{Name: "d", Version: "1", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"}}
	var want bytes.Buffer
	if _, err := bundle.Write(t.Context(), &want, m, []bundle.Source{src}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if f, err := os.CreateTemp(dir, "probe-*"); err == nil {
			t.Logf("%s takes O_DIRECT: %v", dir, directio.NewWriter(f) != nil)
			f.Close()
			os.Remove(f.Name())
		}
		path := filepath.Join(dir, "b.ferry")
		res, err := bundle.WriteFile(t.Context(), path, m, []bundle.Source{src})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s: file (%d bytes) differs from the in-memory write (%d bytes)", dir, len(got), want.Len())
		}
		if res.Size != int64(len(got)) || hexSHA256(got) != hex.EncodeToString(res.SHA256) {
			t.Fatalf("%s: result says %d bytes %x, file has %d bytes", dir, res.Size, res.SHA256, len(got))
		}
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

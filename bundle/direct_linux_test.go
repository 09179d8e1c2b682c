package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// writeDirect writes data through a directWriter in pieces of the given
// sizes (cycled) and returns what the file holds after Flush.
func writeDirect(t *testing.T, dir string, data []byte, pieces []int) ([]byte, bool) {
	t.Helper()
	f, err := os.CreateTemp(dir, "direct-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newDirectWriter(f)
	if w == nil {
		return nil, false
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_DIRECT == 0 {
		t.Fatalf("newDirectWriter did not turn O_DIRECT on (flags %#o, %v)", flags, err)
	}
	rest := data
	for i := 0; len(rest) > 0; i++ {
		k := min(pieces[i%len(pieces)], len(rest))
		if n, err := w.Write(rest[:k]); err != nil || n != k {
			t.Fatalf("write %d bytes: %d, %v", k, n, err)
		}
		rest = rest[k:]
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("a write after Flush succeeded")
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return got, true
}

// The file a directWriter writes is exactly what was written to it, for
// sizes around the alignment and the buffer size, in odd-sized pieces.
func TestDirectWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 3*directChunk+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1, directChunk - 1, directChunk, directChunk + 1, len(data)} {
		for _, pieces := range [][]int{{1 << 20}, {1000, 70001, 3}} {
			got, ok := writeDirect(t, dir, data[:size], pieces)
			if !ok {
				t.Skip("the file system of the test's temporary directory refuses O_DIRECT; TestWriteFileTmpfs covers the fallback")
			}
			if !bytes.Equal(got, data[:size]) {
				t.Fatalf("size %d, pieces %v: file has %d bytes, differs from what was written", size, pieces, len(got))
			}
		}
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
	payload := make([]byte, 5*directChunk+777)
	for i := range payload {
		payload[i] = byte(rng.Uint32() % 7) // compressible, so the stream length is not a round number
	}
	src := Source{
		Entry: Entry{Path: "sbom.spdx.json", Size: int64(len(payload)), SHA256: sha256Hex(payload), Role: RoleSBOM},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil },
	}
	m := Manifest{Name: "d", Version: "1", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"}}
	var want bytes.Buffer
	if _, err := Write(t.Context(), &want, m, []Source{src}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
		if f, err := os.CreateTemp(dir, "probe-*"); err == nil {
			t.Logf("%s takes O_DIRECT: %v", dir, newDirectWriter(f) != nil)
			f.Close()
			os.Remove(f.Name())
		}
		path := filepath.Join(dir, "b.ferry")
		res, err := WriteFile(t.Context(), path, m, []Source{src})
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
		if res.Size != int64(len(got)) || sha256Hex(got) != hex.EncodeToString(res.SHA256) {
			t.Fatalf("%s: result says %d bytes %x, file has %d bytes", dir, res.Size, res.SHA256, len(got))
		}
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// A direct write the kernel turns down (here: a buffer off the alignment,
// as a file system with stricter rules would refuse an aligned one) is
// made again through the page cache, and O_DIRECT stays off.
func TestDirectWriterFallsBack(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "direct-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newDirectWriter(f)
	if w == nil {
		t.Skip("the file system of the test's temporary directory refuses O_DIRECT")
	}
	buf := alignedBuffer(2 * directAlign)[1 : directAlign+1]
	for i := range buf {
		buf[i] = byte(i)
	}
	if err := w.writeAt(buf, 0); err != nil {
		t.Fatalf("misaligned write: %v, want it made through the page cache", err)
	}
	flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if flags&unix.O_DIRECT != 0 {
		t.Error("O_DIRECT still on after a refused direct write")
	}
	if got, _ := os.ReadFile(f.Name()); !bytes.Equal(got, buf) {
		t.Errorf("file holds %d bytes, want the %d written", len(got), len(buf))
	}
}

package directio

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
	"testing/iotest"

	"golang.org/x/sys/unix"
)

// writeDirect writes data through a Writer in pieces of the given sizes
// (cycled), or with ReadFrom from a reader that returns half of what is
// asked when pieces is nil, and returns what the file holds after Flush.
func writeDirect(t *testing.T, dir string, data []byte, pieces []int) ([]byte, bool) {
	t.Helper()
	f, err := os.CreateTemp(dir, "direct-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	if w == nil {
		return nil, false
	}
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_DIRECT == 0 {
		t.Fatalf("NewWriter did not turn O_DIRECT on (flags %#o, %v)", flags, err)
	}
	if pieces == nil {
		if n, err := w.ReadFrom(iotest.HalfReader(bytes.NewReader(data))); err != nil || n != int64(len(data)) {
			t.Fatalf("ReadFrom %d bytes: %d, %v", len(data), n, err)
		}
	}
	rest := data
	if pieces == nil {
		rest = nil
	}
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

// The file a Writer writes is exactly what was written to it, for sizes
// around the alignment and the buffer size, in odd-sized pieces and
// through ReadFrom.
func TestDirectWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 3*directChunk+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	for _, size := range []int{0, 1, directAlign - 1, directAlign, directAlign + 1, directChunk - 1, directChunk, directChunk + 1, len(data)} {
		for _, pieces := range [][]int{{1 << 20}, {1000, 70001, 3}, nil} {
			got, ok := writeDirect(t, dir, data[:size], pieces)
			if !ok {
				t.Skip("the file system of the test's temporary directory refuses O_DIRECT; installer's TestWriteAtomicContent covers the page-cache path")
			}
			if !bytes.Equal(got, data[:size]) {
				t.Fatalf("size %d, pieces %v: file has %d bytes, differs from what was written", size, pieces, len(got))
			}
		}
	}
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
	w := NewWriter(f)
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

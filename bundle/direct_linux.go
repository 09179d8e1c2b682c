package bundle

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directWriter writes a new file with O_DIRECT: from aligned buffers
// straight to the device, past the page cache. A bundle is large, written
// once and then fsynced. Through the page cache every byte was first copied
// into page-cache pages, and when the machine had other dirty data (a
// previous build's, a copy in progress) that copying slowed to a crawl:
// on the benchmark machine, with 1.6 GB of other dirty data, a cold build
// took 2.7-3.5 s through the page cache and 1.6 s with O_DIRECT. It also
// leaves the build machine's page cache to the data it was caching.
//
// One goroutine writes a full buffer while the caller fills the other.
// Flush writes the unaligned tail with O_DIRECT turned off. A file system
// that takes the flag but refuses the writes gets them through the page
// cache instead.
type directWriter struct {
	f        *os.File
	bufs     [2][]byte
	cur      int   // index of the buffer being filled
	n        int   // bytes in bufs[cur]
	off      int64 // file offset of bufs[cur]
	inflight bool
	done     chan error
	err      error
}

const (
	directAlign = 4096
	directChunk = 2 << 20
)

// newDirectWriter turns on O_DIRECT for f, which must be empty and open for
// writing, or returns nil when the file system refuses it: the caller then
// writes through the page cache.
func newDirectWriter(f *os.File) *directWriter {
	if err := setDirect(f, true); err != nil {
		return nil
	}
	w := &directWriter{f: f, done: make(chan error, 1)}
	for i := range w.bufs {
		w.bufs[i] = alignedBuffer(directChunk)
	}
	return w
}

func setDirect(f *os.File, on bool) error {
	fd := f.Fd()
	flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		flags |= unix.O_DIRECT
	} else {
		flags &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
	return err
}

func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

func (w *directWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := len(p)
	for len(p) > 0 {
		k := copy(w.bufs[w.cur][w.n:], p)
		w.n += k
		p = p[k:]
		if w.n == directChunk {
			if err := w.flushFull(); err != nil {
				return total - len(p), err
			}
		}
	}
	return total, nil
}

// wait waits for the write in flight, if any, and returns the first error.
func (w *directWriter) wait() error {
	if w.inflight {
		w.inflight = false
		if err := <-w.done; err != nil && w.err == nil {
			w.err = err
		}
	}
	return w.err
}

// flushFull hands the full buffer to a goroutine, once the write before it
// has finished, and goes on filling the other.
func (w *directWriter) flushFull() error {
	if err := w.wait(); err != nil {
		return err
	}
	buf, off := w.bufs[w.cur], w.off
	w.inflight = true
	go func() { w.done <- w.writeAt(buf, off) }()
	w.cur, w.n, w.off = 1-w.cur, 0, off+int64(len(buf))
	return nil
}

// writeAt writes b at off, and again through the page cache if the file
// system turns the direct write down.
func (w *directWriter) writeAt(b []byte, off int64) error {
	_, err := w.f.WriteAt(b, off)
	if errors.Is(err, unix.EINVAL) {
		if err = setDirect(w.f, false); err == nil {
			_, err = w.f.WriteAt(b, off)
		}
	}
	return err
}

// Flush waits for the write in flight and writes what is buffered: the
// aligned part directly, the rest with O_DIRECT turned off. Nothing may be
// written after it.
func (w *directWriter) Flush() error {
	if err := w.wait(); err != nil {
		return err
	}
	buf, off := w.bufs[w.cur][:w.n], w.off
	w.err = errors.New("direct writer: write after flush")
	aligned := len(buf) &^ (directAlign - 1)
	if aligned > 0 {
		if err := w.writeAt(buf[:aligned], off); err != nil {
			return err
		}
	}
	if len(buf) == aligned {
		return nil
	}
	if err := setDirect(w.f, false); err != nil {
		return err
	}
	_, err := w.f.WriteAt(buf[aligned:], off+int64(aligned))
	return err
}

// abort waits for the write in flight and drops what is buffered.
func (w *directWriter) abort() {
	w.wait()
	w.err = errors.New("direct writer: aborted")
}

package images

import (
	"io"
	"sync"
)

// Progress is one progress event of a pull: how many bytes of the blobs
// being downloaded have arrived so far, out of how many, and which image and
// blob the latest bytes belong to.
type Progress struct {
	// Ref is the image whose blob advanced.
	Ref string
	// Digest is the blob that advanced (sha256:...).
	Digest string
	// Done is the number of bytes downloaded so far, over all blobs.
	Done int64
	// Total is the number of bytes to download, over all blobs; blobs
	// already in the cache are not counted.
	Total int64
}

// progressMeter sums the bytes of parallel downloads and reports them
// without ever blocking the download.
type progressMeter struct {
	ch    chan<- Progress
	mu    sync.Mutex
	done  int64
	total int64
}

func newProgressMeter(ch chan<- Progress, total int64) *progressMeter {
	return &progressMeter{ch: ch, total: total}
}

func (p *progressMeter) add(ref, digest string, n int64) {
	if p == nil || p.ch == nil {
		return
	}
	// Sending under the lock keeps Done increasing from event to event;
	// the send never blocks, so the lock is held only briefly.
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	select {
	case p.ch <- Progress{Ref: ref, Digest: digest, Done: p.done, Total: p.total}:
	default:
	}
}

// reader wraps r so that every read reports its bytes.
func (p *progressMeter) reader(r io.Reader, ref, digest string) io.Reader {
	if p == nil || p.ch == nil {
		return r
	}
	return &progressReader{r: r, p: p, ref: ref, digest: digest}
}

type progressReader struct {
	r           io.Reader
	p           *progressMeter
	ref, digest string
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	if n > 0 {
		r.p.add(r.ref, r.digest, int64(n))
	}
	return n, err
}

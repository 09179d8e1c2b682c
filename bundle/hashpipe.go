package bundle

import (
	"crypto/sha256"
	"hash"
	"sync"
)

// hashPipe hashes what is written to it on a goroutine of its own. The
// compressed stream is hashed (for the detached signature) and written to
// the file by the same zstd goroutine; with a plain io.MultiWriter those two
// took turns on one core and bounded the whole write (BENCHMARKS.md).
// Write copies p into one of a few fixed buffers and returns, so at most
// hashPipeBuffers*hashPipeChunk bytes wait to be hashed.
type hashPipe struct {
	h    hash.Hash
	full chan []byte
	free chan []byte
	done chan struct{}
	once sync.Once
}

const (
	hashPipeBuffers = 8
	hashPipeChunk   = 256 << 10
)

func newHashPipe() *hashPipe {
	p := &hashPipe{
		h:    sha256.New(),
		full: make(chan []byte, hashPipeBuffers),
		free: make(chan []byte, hashPipeBuffers),
		done: make(chan struct{}),
	}
	for range hashPipeBuffers {
		p.free <- make([]byte, hashPipeChunk)
	}
	go func() {
		defer close(p.done)
		for b := range p.full {
			p.h.Write(b)
			p.free <- b[:cap(b)]
		}
	}()
	return p
}

// Write never fails.
func (p *hashPipe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		buf := <-p.free
		k := copy(buf, b)
		p.full <- buf[:k]
		b = b[k:]
	}
	return n, nil
}

// Sum waits for everything written to be hashed and returns the digest.
// Nothing may be written after it.
func (p *hashPipe) Sum() []byte {
	p.stop()
	return p.h.Sum(nil)
}

// stop ends the hashing goroutine; it is safe to call more than once.
func (p *hashPipe) stop() {
	p.once.Do(func() { close(p.full) })
	<-p.done
}

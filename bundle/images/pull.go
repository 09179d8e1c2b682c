package images

import (
	"context"
	"errors"
	"slices"
)

// pulls are the downloads of the blobs missing from the store. They run
// while the archive is written: the archive takes blobs in digest order,
// each as soon as its download has returned, so copying and hashing the
// first blobs overlaps downloading the rest.
type pulls struct {
	blobs  map[string]*pull
	cancel context.CancelFunc
	all    chan struct{} // closed when every download has returned
	err    error         // the outcome; set before all is closed
}

// pull is one download.
type pull struct {
	done chan struct{} // closed when the download has returned
	err  error         // set before done is closed
}

// startPulls starts downloading, at most WithJobs at once in digest order,
// the blobs of blobs the store lacks, stopping all at the first failure.
func (c *client) startPulls(ctx context.Context, blobs map[string]*blobNeed) *pulls {
	var missing []string
	var total int64
	for d, b := range blobs {
		if !c.store.has(d, b.size) {
			missing = append(missing, d)
			total += b.size
		}
	}
	slices.Sort(missing)
	ctx, cancel := context.WithCancel(ctx)
	p := &pulls{blobs: make(map[string]*pull, len(missing)), cancel: cancel, all: make(chan struct{})}
	for _, d := range missing {
		p.blobs[d] = &pull{done: make(chan struct{})}
	}
	meter := newProgressMeter(c.o.progress, total)
	go func() {
		defer close(p.all)
		errs := forEach(ctx, len(missing), c.o.jobs, func(ctx context.Context, i int) error {
			b := blobs[missing[i]]
			err := c.fetchBlob(ctx, b.r, missing[i], b.size, meter)
			if err != nil {
				cancel()
			}
			pl := p.blobs[missing[i]]
			pl.err = err
			close(pl.done)
			return err
		})
		// Downloads never started (ctx was done) have not closed theirs.
		for i, d := range missing {
			pl := p.blobs[d]
			select {
			case <-pl.done:
			default:
				pl.err = errs[i]
				close(pl.done)
			}
		}
		p.err = firstFailure(errs)
	}()
	return p
}

// fresh reports whether digest is being downloaded by this call.
func (p *pulls) fresh(digest string) bool {
	_, ok := p.blobs[digest]
	return ok
}

// wait returns once digest is in the store, or with its download's error.
// A blob that was cached already is ready at once.
func (p *pulls) wait(ctx context.Context, digest string) error {
	pl, ok := p.blobs[digest]
	if !ok {
		return nil
	}
	select {
	case <-pl.done:
		return pl.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish waits for every download to return and reports the first real
// failure, not the cancellations it caused.
func (p *pulls) finish() error {
	<-p.all
	p.cancel()
	return p.err
}

func firstFailure(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}

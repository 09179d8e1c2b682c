package images

import (
	"context"
	"sync"
)

// forEach runs fn for 0..n-1 with at most jobs running at once and returns
// each call's error at its index. Once ctx is done, calls not yet started
// get ctx's error instead of running.
func forEach(ctx context.Context, n, jobs int, fn func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	sem := make(chan struct{}, max(jobs, 1))
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errs
}

package builder

import (
	"context"
	"errors"
)

// task is work running beside the rest of a build (the k3s release
// download, decrypting the signing key). If it fails, it cancels the build
// at once, and failed reports its error in place of the cancellation that
// caused. The methods of a nil *task do nothing and report no error.
type task struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

// startTask runs fn in the background; if fn fails, it calls onError
// (which cancels the rest of the build).
func startTask(ctx context.Context, onError context.CancelFunc, fn func(context.Context) error) *task {
	ctx, cancel := context.WithCancel(ctx)
	t := &task{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(t.done)
		if t.err = fn(ctx); t.err != nil {
			onError()
		}
	}()
	return t
}

// wait returns the task's error once it has finished.
func (t *task) wait() error {
	if t == nil {
		return nil
	}
	<-t.done
	return t.err
}

// stop cancels the task if it is still running and waits for it.
func (t *task) stop() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}

// failed stops the task and returns the error to report for err, a
// failure of the work done beside it: the task's own error when the task
// failed first (err is then usually the cancellation it caused).
func (t *task) failed(err error) error {
	if t == nil {
		return err
	}
	t.stop()
	if t.err != nil && !errors.Is(t.err, context.Canceled) {
		return t.err
	}
	return err
}

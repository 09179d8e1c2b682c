package builder

import (
	"context"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/bundle/images"
)

// Stage names what a progress Event is about.
type Stage string

// Stages of a build. Downloads and image pulls run at the same time; the
// bundle write comes after both.
const (
	StageDownload Stage = "download" // k3s release assets and extra files
	StageImages   Stage = "images"   // image blobs
	StageWrite    Stage = "write"    // the bundle itself
)

// Event is one progress report of a build: Done of Total bytes of the
// named item (a URL, an image, or the bundle's current entry).
type Event struct {
	Stage       Stage
	Name        string
	Done, Total int64
}

// progress forwards the fetchers' typed progress events to o.Progress
// until ctx ends. Sends never block: a slow reader sees fewer events.
type progress struct {
	fetch  chan fetch.Progress
	images chan images.Progress
	write  chan bundle.Progress
}

func startProgress(ctx context.Context, out chan<- Event) *progress {
	if out == nil {
		return nil
	}
	p := &progress{fetch: make(chan fetch.Progress, 16), images: make(chan images.Progress, 16), write: make(chan bundle.Progress, 16)}
	send := func(e Event) {
		select {
		case out <- e:
		default:
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-p.fetch:
				send(Event{Stage: StageDownload, Name: e.URL, Done: e.Done, Total: e.Total})
			case e := <-p.images:
				send(Event{Stage: StageImages, Name: e.Ref, Done: e.Done, Total: e.Total})
			case e := <-p.write:
				send(Event{Stage: StageWrite, Name: e.Entry, Done: e.Done, Total: e.Total})
			}
		}
	}()
	return p
}

package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ferry-k3s/ferry/bundle/builder"
)

// progressUI draws one progress bar on a terminal: first for all the
// downloads together (the k3s release assets, extra files and image layers
// download at the same time), then for the bundle write. Events update its
// state (and start the write's bar); the bar is drawn from that state ten
// times a second.
// Log lines are written through it, so that a line never lands in the
// middle of a bar.
type progressUI struct {
	w      io.Writer
	events chan builder.Event
	done   chan struct{}
	exited chan struct{}

	mu        sync.Mutex
	bar       *progressbar.ProgressBar
	writing   bool                // the bar is the bundle write's
	downloads map[string]download // by URL, and "images" for all layers
	desc      string
	cur       int64 // bytes done
	total     int64 // bytes in all, -1 when not known
	dirty     bool
}

type download struct{ done, total int64 }

// progressEvery is how often the bar is redrawn.
const progressEvery = 100 * time.Millisecond

func newProgressUI(w io.Writer) *progressUI {
	u := &progressUI{
		w: w, events: make(chan builder.Event, 64), done: make(chan struct{}), exited: make(chan struct{}),
		downloads: map[string]download{},
	}
	go u.run()
	return u
}

func (u *progressUI) run() {
	defer close(u.exited)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case e := <-u.events:
			u.update(e)
		case <-tick.C:
			u.mu.Lock()
			u.draw()
			u.mu.Unlock()
		case <-u.done:
			u.mu.Lock()
			u.finish()
			u.mu.Unlock()
			return
		}
	}
}

// update records e: the bundle write's progress, or one download's, which
// is summed with the others'.
func (u *progressUI) update(e builder.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	writing := e.Stage == builder.StageWrite
	if u.bar == nil || writing != u.writing {
		u.finish()
		u.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(u.w),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetWidth(10),
			progressbar.OptionThrottle(0),
			progressbar.OptionShowCount(),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionFullWidth())
		u.writing = writing
	}
	done, total, active := e.Done, e.Total, 1
	if !writing {
		key := e.Name
		if e.Stage == builder.StageImages {
			key = "images"
		}
		u.downloads[key] = download{e.Done, e.Total}
		done, total, active = 0, 0, 0
		for _, d := range u.downloads {
			done += d.done
			if d.total <= 0 || d.done < d.total {
				active++
			}
			if d.total <= 0 || total < 0 {
				total = -1
			} else {
				total += d.total
			}
		}
	}
	if total <= 0 {
		total = -1
	}
	u.desc, u.cur, u.total, u.dirty = describe(e, active), done, total, true
}

// draw shows the state on the bar; u.mu is held.
func (u *progressUI) draw() {
	if u.bar == nil || !u.dirty {
		return
	}
	u.bar.Describe(u.desc)
	if u.total != u.bar.GetMax64() {
		u.bar.ChangeMax64(u.total)
	}
	u.bar.Set64(u.cur)
	u.dirty = false
}

// finish draws the bar's last state and ends its line; u.mu is held.
func (u *progressUI) finish() {
	if u.bar == nil {
		return
	}
	u.draw()
	u.bar.Finish()
	io.WriteString(u.w, "\n")
	u.bar = nil
}

// Write prints log lines above the bar.
func (u *progressUI) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bar != nil {
		u.bar.Clear()
		u.dirty = true // drawn again at the next tick
	}
	return u.w.Write(p)
}

// stop finishes the bar and waits for the drawing goroutine.
func (u *progressUI) stop() {
	close(u.done)
	<-u.exited
}

// describe names what the bar shows: the bundle write, or the download
// that last moved and how many others are running.
func describe(e builder.Event, active int) string {
	var name string
	switch e.Stage {
	case builder.StageWrite:
		return "write bundle"
	case builder.StageImages:
		name = "pull images"
	default:
		name = "download " + e.Name[strings.LastIndex(e.Name, "/")+1:]
	}
	if active > 1 {
		name += fmt.Sprintf(" (+%d)", active-1)
	}
	return name
}

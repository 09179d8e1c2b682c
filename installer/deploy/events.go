package deploy

import (
	"context"
	"time"
)

// Event is one step of one host starting or ending, for a live display.
// The library never draws: it sends events on Options.Events.
type Event struct {
	Host  string // "" for a local step
	Step  string
	State string // "start", "progress" (bytes sent during a copy), "done" or "failed"
	Err   string `json:",omitempty"`
	// BytesSent is the host's total so far.
	BytesSent int64
	At        time.Time
}

// eventSink sends events, dropping none, until ctx ends.
type eventSink struct {
	ch chan<- Event
}

func (s eventSink) send(ctx context.Context, h *Host, step, state string, err error) {
	if s.ch == nil {
		return
	}
	e := Event{Step: step, State: state, At: time.Now()}
	if h != nil {
		e.Host, e.BytesSent = h.ID, h.BytesSent()
	}
	if err != nil {
		e.Err = err.Error()
	}
	select {
	case s.ch <- e:
	case <-ctx.Done():
	}
}

// progressEvery is how often a copy reports its bytes (500ms).
const progressEvery = 500 * time.Millisecond

// progress sends a "progress" event for the host's current step at most
// every progressEvery. It never blocks the copy: an event the receiver is
// not ready for is dropped (the next one carries the total).
func (h *Host) progress() {
	now := time.Now()
	last := h.lastProgress.Load()
	if h.events.ch == nil || now.UnixNano()-last < int64(progressEvery) || !h.lastProgress.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	select {
	case h.events.ch <- Event{Host: h.ID, Step: h.step, State: "progress", BytesSent: h.BytesSent(), At: now}:
	default:
	}
}

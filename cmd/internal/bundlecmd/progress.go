package bundlecmd

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ferry-k3s/ferry/bundle"
)

// Progress draws, on a terminal only, how much of a bundle has been read:
// bytes, rate and time left, redrawn at most four times a second on one
// line. It draws nothing on a pipe, with --json, with NO_COLOR set or with
// TERM=dumb (STYLE.md), so logs and machine output stay clean.
type Progress struct {
	w     io.Writer
	now   func() time.Time
	mu    sync.Mutex
	start time.Time
	last  time.Time
	drawn bool
}

// NewProgress returns a Progress drawing on w, or nil when w is not a
// terminal or output must stay plain (asJSON, NO_COLOR, TERM=dumb).
func NewProgress(w io.Writer, asJSON bool) *Progress {
	f, ok := w.(*os.File)
	if !ok || asJSON || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &Progress{w: w, now: time.Now}
}

// Options returns the reader option that feeds p, or none for a nil p.
func (p *Progress) Options() []bundle.ReadOption {
	if p == nil {
		return nil
	}
	return []bundle.ReadOption{bundle.WithProgress(p.Update)}
}

// Update is a bundle.WithProgress callback. It is safe on a nil Progress.
func (p *Progress) Update(read, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if read < total && now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.w, "\r\x1b[K%s", line(read, total, now.Sub(p.start)))
	p.drawn = true
	if total > 0 && read >= total {
		// The whole bundle is read: end the line, so that what the
		// command logs next starts on a line of its own.
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// Done ends the line, if one was drawn. It is safe on a nil Progress.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// line describes read of total bytes after elapsed.
func line(read, total int64, elapsed time.Duration) string {
	s := fmt.Sprintf("read %s of %s", mib(read), mib(total))
	if total > 0 {
		s += fmt.Sprintf(" (%d%%)", read*100/total)
	}
	if sec := elapsed.Seconds(); sec >= 0.5 && read > 0 {
		rate := float64(read) / sec
		s += fmt.Sprintf(", %s/s", mib(int64(rate)))
		if total > read {
			left := time.Duration(float64(total-read) / rate * float64(time.Second))
			s += fmt.Sprintf(", %s left", left.Round(time.Second))
		}
	}
	return s
}

func mib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

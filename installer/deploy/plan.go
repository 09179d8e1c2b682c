package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Step is one thing done to one host (or locally when Host is nil). Run
// does it; Commands lists what it runs there, for --dry-run; Undo, where
// it applies, takes it back and must be safe to call after a Run that
// failed half way. Skip, when set and true at run time, leaves the step out
// (a host that is already done).
type Step struct {
	Title    string
	Host     *Host
	Commands []string
	Run      func(ctx context.Context) error
	Undo     func(ctx context.Context) error
	Skip     func() bool
}

// Phase is a list of steps run together: one at a time in order when
// Parallel is 1, else at most Parallel at once. A failure lets the steps
// already running finish, starts no more, and stops the plan. Checkpoint
// means that once the phase has succeeded, the undo of the steps before it
// is no longer run: the hosts are meant to keep what those steps did.
type Phase struct {
	Title      string
	Parallel   int
	Steps      []*Step
	Checkpoint bool
}

// Plan is the ordered list of phases of one deploy, upgrade or uninstall.
type Plan struct {
	Phases []*Phase
	// KeepGoing runs every step of a phase, and the later phases, even
	// when one fails (uninstall); the failures are joined.
	KeepGoing bool
	// Log receives the start and end of local steps (hosts' steps go to
	// their own logs, which copy them to the console).
	Log io.Writer
	// Events, when set, receives every step's start and end.
	Events chan<- Event
}

// Describe writes the plan for --dry-run: phase by phase, step by step,
// with every command.
func (p *Plan) Describe(w io.Writer) error {
	for i, ph := range p.Phases {
		how := "one host at a time, in order"
		if ph.Parallel != 1 && len(ph.Steps) > 1 {
			how = fmt.Sprintf("in parallel, at most %d at once", ph.Parallel)
		}
		if _, err := fmt.Fprintf(w, "%d. %s (%s)\n", i+1, ph.Title, how); err != nil {
			return err
		}
		for _, s := range ph.Steps {
			where := "local"
			if s.Host != nil {
				where = s.Host.ID
			}
			fmt.Fprintf(w, "   [%s] %s\n", where, s.Title)
			for _, c := range s.Commands {
				fmt.Fprintf(w, "       $ %s\n", c)
			}
		}
	}
	return nil
}

// StepError is a step that failed on a host.
type StepError struct {
	Host  string // "" for a local step
	Title string
	Err   error
}

func (e *StepError) Error() string {
	if e.Host == "" {
		return fmt.Sprintf("%s: %v", e.Title, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Host, e.Title, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Run runs the plan. On a failure it runs, newest first and with a context
// that is not cancelled, the undo of every step that ran since the last
// checkpoint, and returns the failures (each a *StepError) joined with any
// undo failures.
func (p *Plan) Run(ctx context.Context) error {
	var done []*Step
	var failures []error
	for _, ph := range p.Phases {
		ran, err := ph.run(ctx, p.KeepGoing, p.Log, eventSink{p.Events})
		done = append(done, ran...)
		if err != nil {
			failures = append(failures, err)
			if !p.KeepGoing {
				break
			}
		}
		if ph.Checkpoint && err == nil {
			done = nil
		}
	}
	if len(failures) == 0 {
		return nil
	}
	uctx := context.WithoutCancel(ctx)
	for i := len(done) - 1; i >= 0; i-- {
		s := done[i]
		if s.Undo == nil {
			continue
		}
		s.Host.logf("undo: %s", s.Title)
		if err := s.Undo(uctx); err != nil {
			failures = append(failures, &StepError{Host: s.Host.id(), Title: "undo " + s.Title, Err: err})
		}
	}
	return errors.Join(failures...)
}

// run runs the phase's steps and returns those that ran (successfully or
// not, so that a half-done step is undone too).
func (ph *Phase) run(ctx context.Context, keepGoing bool, log io.Writer, ev eventSink) ([]*Step, error) {
	n := ph.Parallel
	if n < 1 {
		n = 1
	}
	var (
		mu       sync.Mutex
		ran      []*Step
		failures []error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, n)
	for _, s := range ph.Steps {
		if s.Skip != nil && s.Skip() {
			continue
		}
		mu.Lock()
		stop := len(failures) > 0 && !keepGoing
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		mu.Lock()
		stop = len(failures) > 0 && !keepGoing
		if !stop {
			ran = append(ran, s)
		}
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := s.runLogged(ctx, log, ev)
			if err != nil {
				mu.Lock()
				failures = append(failures, &StepError{Host: s.Host.id(), Title: s.Title, Err: err})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && len(failures) == 0 {
		failures = append(failures, fmt.Errorf("%s: %w", ph.Title, err))
	}
	return ran, errors.Join(failures...)
}

func (s *Step) runLogged(ctx context.Context, log io.Writer, ev eventSink) error {
	logf := s.Host.logf
	if s.Host == nil {
		logf = func(format string, args ...any) {
			if log != nil {
				fmt.Fprintf(log, "local: "+format+"\n", args...)
			}
		}
	}
	if s.Host != nil {
		s.Host.events, s.Host.step = ev, s.Title
	}
	start := time.Now()
	logf("step start: %s", s.Title)
	ev.send(ctx, s.Host, s.Title, "start", nil)
	err := s.Run(ctx)
	if err != nil {
		logf("step failed after %s: %s: %v", time.Since(start).Round(time.Millisecond), s.Title, err)
		ev.send(ctx, s.Host, s.Title, "failed", err)
		return err
	}
	logf("step done after %s: %s", time.Since(start).Round(time.Millisecond), s.Title)
	ev.send(ctx, s.Host, s.Title, "done", nil)
	return nil
}

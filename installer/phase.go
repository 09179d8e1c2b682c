package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Phase is one step of a rollout. Run changes the host; DryRun describes on
// w every file Run would write and every command it would run, changing
// nothing; Undo reverts what Run did, and must be safe to call after Run
// failed part way or did not run at all.
type Phase interface {
	Title() string
	Run(ctx context.Context) error
	DryRun(ctx context.Context, w io.Writer) error
	Undo(ctx context.Context) error
}

// Conditional is a Phase that may decide, at its turn, that it has nothing
// to do; a skipped phase is neither run nor undone.
type Conditional interface {
	ShouldRun() bool
}

// Manager runs phases in order. When one fails it undoes that phase and
// every phase that ran before it, in reverse order.
type Manager struct {
	Phases []Phase
	// Log receives one line per phase (default io.Discard).
	Log io.Writer
}

// Run runs every phase. On failure the returned error wraps the phase's
// error and, when every undo succeeded, ErrRolledBack; when an undo failed
// too, both errors are joined and the host may be left changed.
func (m *Manager) Run(ctx context.Context) error {
	log := m.log()
	var ran []Phase
	for _, p := range m.Phases {
		if c, ok := p.(Conditional); ok && !c.ShouldRun() {
			fmt.Fprintf(log, "==> %s: skipped\n", p.Title())
			continue
		}
		fmt.Fprintf(log, "==> %s\n", p.Title())
		ran = append(ran, p)
		if err := p.Run(ctx); err != nil {
			err = fmt.Errorf("%s: %w", p.Title(), err)
			return m.undo(ran, err)
		}
	}
	return nil
}

// undo reverts ran in reverse order after cause. It uses a context that
// is not cancelled, so that an interrupt still leaves the host as it was.
func (m *Manager) undo(ran []Phase, cause error) error {
	ctx := context.WithoutCancel(context.Background())
	var errs []error
	for i := len(ran) - 1; i >= 0; i-- {
		fmt.Fprintf(m.log(), "<== undo %s\n", ran[i].Title())
		if err := ran[i].Undo(ctx); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", ran[i].Title(), err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(append([]error{cause}, errs...)...)
	}
	return &RolledBackError{Err: cause}
}

// DryRun asks every phase to describe itself on w.
func (m *Manager) DryRun(ctx context.Context, w io.Writer) error {
	for _, p := range m.Phases {
		if c, ok := p.(Conditional); ok && !c.ShouldRun() {
			fmt.Fprintf(w, "# %s: skipped\n", p.Title())
			continue
		}
		fmt.Fprintf(w, "# %s\n", p.Title())
		if err := p.DryRun(ctx, w); err != nil {
			return fmt.Errorf("%s (dry run): %w", p.Title(), err)
		}
	}
	return nil
}

func (m *Manager) log() io.Writer {
	if m.Log == nil {
		return io.Discard
	}
	return m.Log
}

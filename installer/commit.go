package installer

import (
	"context"
	"fmt"
	"io"
	"time"
)

// commitPhase writes state.json, the commit point of a swap: before it a
// later run reverts the swap, after it the swap stands.
type commitPhase struct {
	host  Host
	sw    *swap
	next  State
	now   func() time.Time
	state *State
}

func (p *commitPhase) Title() string { return "record the install in " + StateFile }

func (p *commitPhase) Run(ctx context.Context) error {
	next := p.next
	next.InstalledAt = p.now().UTC()
	st := p.sw.commitState(next)
	if err := writeState(ctx, p.host, st); err != nil {
		return err
	}
	p.state = st
	return nil
}

func (p *commitPhase) DryRun(ctx context.Context, w io.Writer) error {
	_, err := fmt.Fprintf(w, "write %s 0644 (%s %s, %d files; keeps %s %s in %s for rollback)\n", StateFile,
		p.next.Bundle.Name, p.next.Bundle.Version, len(p.sw.target), p.sw.current.Bundle.Name, p.sw.current.Bundle.Version, p.sw.keepDir())
	return err
}

// Undo puts back the state.json of the install being replaced.
func (p *commitPhase) Undo(ctx context.Context) error {
	if p.state == nil {
		return nil
	}
	return writeState(ctx, p.host, p.sw.current)
}

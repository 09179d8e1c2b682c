package installer

import (
	"context"
	"fmt"
	"io"
)

// stopPhase stops k3s before the swap; its undo starts the install that
// is back in place and waits for it.
type stopPhase struct {
	s serviceSteps
}

func (p *stopPhase) Title() string { return "stop " + p.s.name }

func (p *stopPhase) Run(ctx context.Context) error {
	if err := p.s.svc.Stop(ctx, p.s.name); err != nil {
		return fmt.Errorf("stop %s: %w", p.s.name, err)
	}
	return nil
}

func (p *stopPhase) DryRun(ctx context.Context, w io.Writer) error {
	_, err := fmt.Fprintf(w, "stop %s\n", p.s.name)
	return err
}

func (p *stopPhase) Undo(ctx context.Context) error {
	if !p.s.wasStarted {
		return nil
	}
	svc := p.s.svc
	if err := svc.DaemonReload(ctx); err != nil {
		return fmt.Errorf("reload the init system: %w", err)
	}
	if err := startAndWait(ctx, svc, p.s.name, p.s.timeout); err != nil {
		return fmt.Errorf("start the previous install again: %w", err)
	}
	return nil
}

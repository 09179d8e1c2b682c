package installer

import (
	"context"
	"io"
)

// preflightPhase runs the host checks; it changes nothing.
type preflightPhase struct {
	p *plan
}

func (s *preflightPhase) Title() string { return "preflight checks" }

func (s *preflightPhase) Run(ctx context.Context) error {
	return s.p.opts.Preflight(ctx, s.p.manifest)
}

func (s *preflightPhase) DryRun(ctx context.Context, w io.Writer) error {
	return s.p.opts.Preflight(ctx, s.p.manifest)
}

func (s *preflightPhase) Undo(ctx context.Context) error { return nil }

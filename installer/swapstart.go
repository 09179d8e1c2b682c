package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// swapStartPhase starts k3s after the swap and waits for the node; its
// undo stops it again.
type swapStartPhase struct {
	s serviceSteps
}

func (p *swapStartPhase) Title() string { return "start " + p.s.name + " and wait for the node" }

func (p *swapStartPhase) Run(ctx context.Context) error {
	svc := p.s.svc
	if err := svc.DaemonReload(ctx); err != nil {
		return fmt.Errorf("reload the init system: %w", err)
	}
	if err := svc.Enable(ctx, p.s.name); err != nil {
		return fmt.Errorf("enable %s: %w", p.s.name, err)
	}
	return startAndWait(ctx, svc, p.s.name, p.s.timeout)
}

func (p *swapStartPhase) DryRun(ctx context.Context, w io.Writer) error {
	_, err := fmt.Fprintf(w, "daemon-reload\nenable %s\nstart %s\nrun %s kubectl get nodes (wait up to %s for Ready and kube-system pods)\n",
		p.s.name, p.s.name, K3sBinary, p.s.timeout)
	return err
}

func (p *swapStartPhase) Undo(ctx context.Context) error {
	var errs []error
	if err := p.s.svc.Stop(ctx, p.s.name); err != nil {
		errs = append(errs, fmt.Errorf("stop %s: %w", p.s.name, err))
	}
	if !p.s.wasStarted {
		if err := p.s.svc.Disable(ctx, p.s.name); err != nil {
			errs = append(errs, fmt.Errorf("disable %s: %w", p.s.name, err))
		}
	}
	return errors.Join(errs...)
}

package installer

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// Service controls k3s's service on the host (systemd, OpenRC, or a plain
// process in tests). ferry-install adapts installer/service to it.
type Service interface {
	// DaemonReload makes the init system read changed unit files.
	DaemonReload(ctx context.Context) error
	// Enable starts name at boot; Disable undoes it.
	Enable(ctx context.Context, name string) error
	Disable(ctx context.Context, name string) error
	// Start starts name now; Stop stops it.
	Start(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	// WaitReady waits at most timeout for the node to be Ready and the
	// kube-system pods to run.
	WaitReady(ctx context.Context, timeout time.Duration) error
}

// ManagedService is the Service of a host driven by an installer/service
// Manager (systemd, OpenRC or exec), waiting with service.WaitReady.
type ManagedService struct {
	service.Manager
	// Root is the host's root directory (default "/").
	Root string
	// Role is the node's role (default server).
	Role manifests.Role
	// Progress, when not nil, receives the wait's observations.
	Progress chan<- service.WaitProgress
}

// WaitReady implements Service.
func (s *ManagedService) WaitReady(ctx context.Context, timeout time.Duration) error {
	return service.WaitReady(ctx, service.WaitOptions{Root: s.Root, Role: string(s.Role), Manager: s.Manager, Timeout: timeout, Progress: s.Progress})
}

// startPhase enables and starts k3s and waits for the node.
type startPhase struct {
	p       *plan
	enabled bool
	started bool
}

func (s *startPhase) Title() string { return "start k3s and wait for the node" }

func (s *startPhase) name() string { return s.p.opts.Node.ServiceName() }

func (s *startPhase) Run(ctx context.Context) error {
	svc := s.p.opts.Service
	if err := svc.DaemonReload(ctx); err != nil {
		return fmt.Errorf("reload the init system: %w", err)
	}
	if err := svc.Enable(ctx, s.name()); err != nil {
		return fmt.Errorf("enable %s: %w", s.name(), err)
	}
	s.enabled = true
	s.started = true // a failed start may still leave a process behind
	if err := svc.Start(ctx, s.name()); err != nil {
		return fmt.Errorf("start %s: %w", s.name(), err)
	}
	if err := svc.WaitReady(ctx, s.p.opts.Timeout); err != nil {
		return fmt.Errorf("wait for the node (timeout %s): %w", s.p.opts.Timeout, err)
	}
	return nil
}

func (s *startPhase) DryRun(ctx context.Context, w io.Writer) error {
	mgr := s.p.opts.Init
	if n, ok := s.p.opts.Service.(interface{ Name() string }); ok {
		mgr = n.Name()
	}
	fmt.Fprintf(w, "%s: daemon-reload\n%s: enable %s\n%s: start %s\n", mgr, mgr, s.name(), mgr, s.name())
	_, err := fmt.Fprintf(w, "run %s kubectl get nodes (wait up to %s for Ready and kube-system pods)\n", K3sBinary, s.p.opts.Timeout)
	return err
}

func (s *startPhase) Undo(ctx context.Context) error {
	svc := s.p.opts.Service
	var err error
	if s.started {
		if e := svc.Stop(ctx, s.name()); e != nil {
			err = fmt.Errorf("stop %s: %w", s.name(), e)
		}
	}
	if s.enabled {
		if e := svc.Disable(ctx, s.name()); e != nil && err == nil {
			err = fmt.Errorf("disable %s: %w", s.name(), e)
		}
	}
	return err
}

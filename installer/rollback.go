package installer

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"
)

// ErrNoPrevious: there is no previous install to roll back to.
var ErrNoPrevious = errors.New("no previous install is kept: nothing to roll back to (an upgrade keeps one)")

// RollbackOptions describe a rollback. Host is required.
type RollbackOptions struct {
	// RunOptions: the host (required); the service, which stops k3s
	// before the swap, starts it after and waits for the node (nil swaps
	// the files only); the wait, dry run, log and clock.
	RunOptions
}

// RollbackResult describes a finished rollback.
type RollbackResult struct {
	From    BundleRecord `json:"from"`
	To      BundleRecord `json:"to"`
	Files   int          `json:"files"`
	Started bool         `json:"started"`
	DryRun  bool         `json:"dryRun,omitempty"`
	// State is what was recorded (nil for a dry run).
	State *State `json:"-"`
}

// Rollback returns the host to the previous install kept by the last
// upgrade (or rollback): it stops k3s, swaps the kept files back in
// (keeping the current ones in their turn, so a second rollback returns),
// starts k3s and waits for the node. If that node is not Ready in time the
// current install is put back and restarted, and the error matches
// ErrRolledBack. The config.yaml and env file in place stay unless the
// previous install placed others.
func Rollback(ctx context.Context, opts RollbackOptions) (*RollbackResult, error) {
	h := opts.Host
	if h == nil {
		return nil, errors.New("rollback: a host is required")
	}
	opts.RunOptions = opts.RunOptions.withDefaults()
	log := opts.Log
	if !opts.DryRun {
		l, err := lockRoot(ctx, h)
		if err != nil {
			return nil, err
		}
		defer l.unlock(log)
		if err := recoverStale(ctx, h, log); err != nil {
			return nil, err
		}
	}
	cur, err := ReadState(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("rollback: %w", err)
	}
	prev := cur.Previous
	if prev == nil {
		return nil, fmt.Errorf("rollback: %w", ErrNoPrevious)
	}
	if err := checkRecords(cur); err != nil {
		return nil, fmt.Errorf("rollback: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	sw := &swap{host: h, id: newID(), current: cur, target: slices.Clone(prev.Files), dryRun: opts.DryRun, verifySources: true,
		source: func(f FileRecord) string { return path.Join(prev.Kept, f.Path) }}
	next := *prev
	next.Service.Started = prev.Service.Started || opts.Service != nil
	svc := serviceSteps{svc: opts.Service, name: cur.Service.Name, timeout: opts.Timeout, wasStarted: cur.Service.Started}
	var phases []Phase
	if opts.Service != nil {
		phases = append(phases, &stopPhase{s: svc})
	}
	phases = append(phases, sw)
	if opts.Service != nil {
		phases = append(phases, &swapStartPhase{s: svc})
	}
	commit := &commitPhase{host: h, sw: sw, next: next, now: now}
	phases = append(phases, commit)
	res := &RollbackResult{From: cur.Bundle, To: prev.Bundle, Files: len(prev.Files), Started: opts.Service != nil, DryRun: opts.DryRun}
	mgr := &Manager{Phases: phases, Log: log}
	if opts.DryRun {
		return res, mgr.DryRun(ctx, opts.DryRunOutput)
	}
	if err := mgr.Run(ctx); err != nil {
		return nil, rolledBackMessage(err, fmt.Sprintf("rollback from %s %s to %s %s", cur.Bundle.Name, cur.Bundle.Version, prev.Bundle.Name, prev.Bundle.Version),
			fmt.Sprintf("%s %s is in place again", cur.Bundle.Name, cur.Bundle.Version), opts.Service != nil)
	}
	finish(ctx, h, sw, commit.state, log)
	res.State = commit.state
	return res, nil
}

// serviceSteps is what the stop and start phases of a swap share.
type serviceSteps struct {
	svc     Service
	name    string
	timeout time.Duration
	// wasStarted: the install being replaced ran k3s, so undoing the stop
	// starts it again.
	wasStarted bool
}

// startAndWait starts name and waits for the node, both within timeout:
// with systemd, `systemctl start` of a Type=notify unit (TimeoutStartSec=0)
// blocks until k3s reports ready, which a broken k3s never does.
func startAndWait(ctx context.Context, svc Service, name string, timeout time.Duration) error {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	err := svc.Start(sctx, name)
	cancel()
	if err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("start %s: not started within %s: %w", name, timeout, err)
		}
		return fmt.Errorf("start %s: %w", name, err)
	}
	left := max(timeout-time.Since(began), time.Second)
	if err := svc.WaitReady(ctx, left); err != nil {
		return fmt.Errorf("wait for the node (timeout %s): %w", timeout, err)
	}
	return nil
}

package deploy

import (
	"context"
	"fmt"
	"slices"
)

// Uninstall removes the cluster: the agents first (in parallel), then the
// servers one at a time in reverse order, the first server last. On each
// host its own ferry-install uninstall removes what it placed, then deploy
// removes its work directory. A host that fails does not stop the others;
// the failures come back in a *HostsError.
func Uninstall(ctx context.Context, opts Options) (*Result, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	p := &Plan{KeepGoing: true, Log: r.opts.Log, Events: r.opts.Events}
	if agents := r.agents(); len(agents) > 0 {
		ph := &Phase{Title: "uninstall the agents", Parallel: r.opts.parallel()}
		for _, h := range agents {
			ph.Steps = append(ph.Steps, r.uninstallStep(h))
		}
		p.Phases = append(p.Phases, ph)
	}
	servers := slices.Clone(r.servers())
	slices.Reverse(servers)
	ph := &Phase{Title: "uninstall the servers one at a time, the first server last", Parallel: 1}
	for _, h := range servers {
		ph.Steps = append(ph.Steps, r.uninstallStep(h))
	}
	p.Phases = append(p.Phases, ph)
	res := &Result{DryRun: opts.DryRun}
	if opts.DryRun {
		return res, r.describe(p, "uninstall")
	}
	return r.finish(res, p.Run(ctx), "uninstalled")
}

func (r *run) uninstallStep(h *Host) *Step {
	un := shellJoin(append([]string{h.bin(), "uninstall"}, h.rootArgs()...)...)
	rm := "rm -rf " + shellQuote(h.WorkDir)
	return &Step{
		Title:    "uninstall k3s and remove " + h.WorkDir,
		Host:     h,
		Commands: []string{un + "   (when ferry-install is staged and k3s installed)", rm},
		Run: func(ctx context.Context) error {
			rs, err := readRemote(ctx, h)
			if err != nil {
				return err
			}
			if rs.Status != nil && rs.Status.Installed {
				if err := h.run(ctx, command{Line: un, Timeout: r.opts.installTimeout()}); err != nil {
					return fmt.Errorf("ferry-install uninstall: %w", err)
				}
			} else {
				h.logf("ferry has not installed k3s here (or deploy staged no ferry-install): nothing to uninstall")
			}
			if err := h.run(ctx, command{Line: rm}); err != nil {
				return err
			}
			h.finished = true
			return nil
		},
	}
}

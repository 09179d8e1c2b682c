package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// UpgradeError is the node whose upgrade failed, which stopped the
// rollout: its own ferry-install rolled it back (RolledBackTo says to
// what, read from the host after the failure), the hosts after it were
// not touched, and Resume is the command that goes on once it is fixed.
type UpgradeError struct {
	Host         string
	RolledBackTo string
	Resume       string
	Err          error
}

func (e *UpgradeError) Error() string {
	return fmt.Sprintf("upgrade stopped at %s: %v\n%s now runs %s; the hosts after it were not touched.\nfix %s (its log: cluster.yaml.logs/%s.log), then resume with:\n  %s",
		e.Host, e.Err, e.Host, e.RolledBackTo, e.Host, e.Host, e.Resume)
}

func (e *UpgradeError) Unwrap() error { return e.Err }

// Upgrade rolls the bundle Options.Bundle out to a deployed cluster: it
// verifies it here, reads every host (each must be installed), copies
// ferry-install, the new bundle and the key to the hosts not yet on it,
// then upgrades the servers one at a time and the agents in batches of
// Parallel, each with its own ferry-install upgrade (which rolls itself
// back when the node does not come back Ready). Before each server and
// each batch every node must be Ready. The first failure stops the
// rollout with an *UpgradeError inside the *HostsError. A rerun skips
// the hosts already on the new bundle, so it resumes.
func Upgrade(ctx context.Context, opts Options) (*Result, error) {
	if opts.Bundle == "" {
		return nil, errors.New("deploy upgrade: name the new bundle: --bundle NEW.ferry")
	}
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if err := r.needBundle(); err != nil {
		return nil, err
	}
	if r.token, _, err = r.c.LoadToken(false); err != nil {
		return nil, err
	}
	for _, h := range r.hosts {
		h.log.secret = r.token
	}
	p := r.upgradePlan()
	res := &Result{DryRun: opts.DryRun}
	if opts.DryRun {
		return res, r.describe(p, "upgrade")
	}
	return r.finish(res, p.Run(ctx), "upgraded")
}

func (r *run) upgradePlan() *Plan {
	all := len(r.hosts)
	p := &Plan{Log: r.opts.Log, Events: r.opts.Events, Phases: []*Phase{
		{Title: "verify the new bundle here", Parallel: 1, Steps: []*Step{r.verifyStep()}},
		r.hostPhase("connect to every host and read what it runs (changes nothing)", all, false, r.upgradeProbeStep),
		r.hostPhase("copy ferry-install, the new bundle and the key to the hosts not on it yet (installs untouched)", r.opts.parallel(), false, r.upgradeCopyStep),
	}}
	for _, h := range r.servers() {
		p.Phases = append(p.Phases,
			&Phase{Title: "wait until every node is Ready", Parallel: 1, Steps: []*Step{r.allReadyStep(h)}},
			&Phase{Title: "upgrade server " + h.ID + " (never two servers down at once)", Parallel: 1, Steps: []*Step{r.upgradeStep(h)}})
	}
	agents := r.agents()
	for i := 0; i < len(agents); i += r.opts.parallel() {
		batch := agents[i:min(i+r.opts.parallel(), len(agents))]
		ph := &Phase{Title: fmt.Sprintf("upgrade agents %d to %d together", i+1, i+len(batch)), Parallel: len(batch)}
		for _, h := range batch {
			ph.Steps = append(ph.Steps, r.upgradeStep(h))
		}
		p.Phases = append(p.Phases, &Phase{Title: "wait until every node is Ready", Parallel: 1, Steps: []*Step{r.allReadyStep(batch...)}}, ph)
	}
	return p
}

func (r *run) upgradeProbeStep(h *Host) *Step {
	return &Step{
		Title:    "read what the host runs",
		Host:     h,
		Commands: []string{h.Endpoint.describe(), "uname -m", h.statusCommand()},
		Run: func(ctx context.Context) error {
			rs, err := readRemote(ctx, h)
			if err != nil {
				return err
			}
			h.remote = rs
			if rs.Status == nil || !rs.Status.Installed {
				return errors.New("ferry has not installed k3s here (or not through deploy): run ferry-install deploy first")
			}
			if rs.Status.Role != string(h.Role) {
				return fmt.Errorf("installed as a %s, but the cluster file lists it as a %s", rs.Status.Role, h.Role)
			}
			if rs.Status.Bundle.ManifestSHA256 == r.bundle.ManifestSHA256 {
				h.done = true
				h.logf("already on %s %s: left alone", r.bundle.Manifest.Name, r.bundle.Manifest.Version)
			}
			return nil
		},
	}
}

func (r *run) upgradeCopyStep(h *Host) *Step {
	return &Step{
		Title:    "copy ferry-install, " + r.bundleName() + " and the key to " + h.WorkDir,
		Host:     h,
		Commands: []string{"as deploy's copy: skipped where the host holds the same sha256, resumed where cut"},
		Skip:     h.isDone,
		Run: func(ctx context.Context) error {
			files := append([]*localFile{r.installer}, r.bundle.Files...)
			return sendFiles(ctx, h, append(files, r.key), r.opts.CopyTimeout)
		},
	}
}

// allReadyStep waits (at most ReadyTimeout) until every node of the
// cluster is Ready, before next (named for the log) goes down.
func (r *run) allReadyStep(next ...*Host) *Step {
	var names []string
	for _, h := range next {
		names = append(names, h.ID)
	}
	return &Step{
		Title:    "every node Ready before " + strings.Join(names, ", ") + " goes down",
		Commands: []string{"on every host: " + "ferry-install status --json (until nodeReady, at most " + r.opts.readyTimeout().String() + ")"},
		Skip: func() bool {
			for _, h := range next {
				if !h.done {
					return false
				}
			}
			return true
		},
		Run: func(ctx context.Context) error {
			var wg sync.WaitGroup
			errs := make([]error, len(r.hosts))
			for i, h := range r.hosts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := waitReady(ctx, h, r.opts.readyTimeout()); err != nil {
						errs[i] = fmt.Errorf("%s: %w", h.ID, err)
					}
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("not every node is Ready, so no other node goes down: %w; fix it, then resume with: %s", err, r.resumeCommand())
			}
			return nil
		},
	}
}

// upgradeArgs is h's ferry-install upgrade command.
func (r *run) upgradeArgs(h *Host) []string {
	args := []string{h.bin(), "upgrade", "--bundle", h.path(r.bundleName()), "--key", h.path(r.keyName())}
	args = append(args, h.rootArgs()...)
	return append(args, "--timeout", r.opts.readyTimeout().String())
}

func (r *run) upgradeStep(h *Host) *Step {
	line := shellJoin(r.upgradeArgs(h)...)
	return &Step{
		Title:    "upgrade " + string(h.Role) + " and wait until it is Ready",
		Host:     h,
		Commands: []string{line + "   (rolls itself back when the node does not come back Ready)", h.statusCommand() + "   (until nodeReady)"},
		Skip:     h.isDone,
		Run: func(ctx context.Context) error {
			err := h.run(ctx, command{Line: line, Timeout: r.opts.installTimeout()})
			if err == nil {
				_, err = waitReady(ctx, h, r.opts.readyTimeout())
			}
			if err != nil {
				now := "an unknown state (ferry-install status failed)"
				if st, serr := remoteStatus(context.WithoutCancel(ctx), h); serr == nil && st.Bundle != nil {
					now = fmt.Sprintf("%s %s (node %s)", st.Bundle.Name, st.Bundle.Version, map[bool]string{true: "Ready", false: "not Ready"}[st.NodeReady])
				}
				return &UpgradeError{Host: h.ID, RolledBackTo: now, Resume: r.resumeCommand(), Err: err}
			}
			line, config, err := r.installLine(h)
			if err != nil {
				return err
			}
			if err := r.record(ctx, h, r.settings(h, line, config)); err != nil {
				return err
			}
			h.finished = true
			return nil
		},
	}
}

// resumeCommand is the command that goes on with this upgrade.
func (r *run) resumeCommand() string {
	src := []string{"-f", r.c.Path}
	if r.c.FromInventory {
		src = []string{"-i", r.c.Path}
	}
	args := append([]string{"ferry-install", "deploy", "upgrade"}, src...)
	args = append(args, "--bundle", r.bundlePath, "--key", r.keyPath)
	return shellJoin(args...)
}

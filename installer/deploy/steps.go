package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// deployPlan is the rollout as data, in order.
func (r *run) deployPlan() *Plan {
	all := len(r.hosts)
	p := &Plan{Log: r.opts.Log, Events: r.opts.Events}
	p.Phases = append(p.Phases,
		&Phase{Title: "verify the bundle here", Parallel: 1, Steps: []*Step{r.verifyStep()}},
		r.hostPhase("connect to every host and read what it holds (changes nothing)", all, false, r.probeStep),
		r.hostPhase("stage ferry-install on every host that is not done, for its preflight", r.opts.parallel(), false, r.stageStep),
		r.hostPhase("preflight every host that is not done; nothing more happens unless all pass", all, true, r.preflightStep),
		r.hostPhase("copy the bundle, key, token and site files", r.opts.parallel(), false, r.copyStep),
	)
	servers := r.servers()
	p.Phases = append(p.Phases, &Phase{Title: "install the first server and wait until it is Ready", Parallel: 1,
		Steps: []*Step{r.installStep(servers[0])}})
	if len(servers) > 1 {
		ph := &Phase{Title: "join the other servers one at a time, each waited Ready", Parallel: 1}
		for _, h := range servers[1:] {
			ph.Steps = append(ph.Steps, r.installStep(h))
		}
		p.Phases = append(p.Phases, ph)
	}
	if agents := r.agents(); len(agents) > 0 {
		ph := &Phase{Title: "install the agents, each waited Ready", Parallel: r.opts.parallel()}
		for _, h := range agents {
			ph.Steps = append(ph.Steps, r.installStep(h))
		}
		p.Phases = append(p.Phases, ph)
	}
	return p
}

// hostPhase is a phase of one step per host.
func (r *run) hostPhase(title string, parallel int, checkpoint bool, step func(*Host) *Step) *Phase {
	ph := &Phase{Title: title, Parallel: parallel, Checkpoint: checkpoint}
	for _, h := range r.hosts {
		ph.Steps = append(ph.Steps, step(h))
	}
	return ph
}

func (r *run) verifyStep() *Step {
	return &Step{
		Title:    "verify " + r.bundlePath + " with " + r.keyPath,
		Commands: []string{"(here, in this process) ferry-install verify --bundle " + shellQuote(r.bundlePath) + " --key " + shellQuote(r.keyPath)},
		Run:      r.verifyLocal,
	}
}

// verifyLocal verifies the bundle and hashes every file to send.
func (r *run) verifyLocal(ctx context.Context) error {
	lb, err := verifyBundle(ctx, r.bundlePath, r.keyPath)
	if err != nil {
		return err
	}
	r.bundle = lb
	if r.installer, err = installerBinary(ctx, r.opts.Installer); err != nil {
		return err
	}
	if r.key, err = hashFile(ctx, r.keyPath, r.keyName(), 0o644); err != nil {
		return err
	}
	for _, chart := range sortedKeys(r.c.Values) {
		f, err := hashFile(ctx, r.c.resolve(r.c.Values[chart]), valuesName(chart), 0o644)
		if err != nil {
			return fmt.Errorf("values for %s: %w", chart, err)
		}
		r.values[chart] = f
	}
	return nil
}

func (r *run) probeStep(h *Host) *Step {
	return &Step{
		Title: "read the host: its arch, deploy's record and ferry-install status",
		Host:  h,
		Commands: []string{h.Endpoint.describe(), "uname -m", "cat " + shellQuote(h.path(deployedFile)),
			h.statusCommand() + "   (only when ferry-install is staged)"},
		Run: func(ctx context.Context) error { return r.probe(ctx, h) },
	}
}

// probe reads h and decides whether it is done. A host that ferry
// installed from another bundle, or with other settings, is refused.
func (r *run) probe(ctx context.Context, h *Host) error {
	rs, err := readRemote(ctx, h)
	if err != nil {
		return err
	}
	h.remote = rs
	if want := elfArch(r.installer.Path); want != "" && want != h.arch {
		return fmt.Errorf("the host is %s but %s is built for %s: pass --ferry-install with a build for %s", h.arch, r.installer.Path, want, h.arch)
	}
	if r.bundle != nil && !slices.Contains(r.bundle.Manifest.Arches, h.arch) {
		return fmt.Errorf("the host is %s but the bundle carries k3s for %v only", h.arch, r.bundle.Manifest.Arches)
	}
	st := rs.Status
	if st == nil || !st.Installed {
		return nil
	}
	b := st.Bundle
	if b.ManifestSHA256 != r.bundle.ManifestSHA256 {
		return fmt.Errorf("ferry installed %s %s here already: deploy does not reinstall; roll a new bundle out with ferry-install deploy upgrade --bundle NEW", b.Name, b.Version)
	}
	line, config, err := r.installLine(h)
	if err != nil {
		return err
	}
	if rs.Deployed == nil || rs.Deployed.Settings != r.settings(h, line, config) {
		return fmt.Errorf("%s %s is installed here, but not by deploy with these settings (cluster file, token or values changed): put them back, or run ferry-install deploy uninstall, then deploy", b.Name, b.Version)
	}
	h.done = true
	h.logf("already installed from %s %s with these settings: left alone", b.Name, b.Version)
	return nil
}

// installLine is h's install command line and its config file content.
func (r *run) installLine(h *Host) (string, []byte, error) {
	config, err := r.c.hostConfig(h)
	if err != nil {
		return "", nil, err
	}
	return shellJoin(r.installArgs(h, config != nil)...), config, nil
}

func (h *Host) isDone() bool { return h.done }

func (r *run) stageStep(h *Host) *Step {
	return &Step{
		Title: "stage ferry-install in " + h.WorkDir,
		Host:  h,
		Commands: []string{probeCommand(h.bin()),
			"mkdir -p " + shellQuote(h.WorkDir) + " && cat > " + shellQuote(h.bin()+".partial") + "   (ferry-install on stdin; >> from the cut point to resume)",
			"sha256sum " + shellQuote(h.bin()+".partial") + " && chmod 755 ... && mv -f ... " + shellQuote(h.bin())},
		Skip: h.isDone,
		Run:  func(ctx context.Context) error { return sendFile(ctx, h, r.installer, r.opts.CopyTimeout) },
		Undo: func(ctx context.Context) error {
			switch {
			case h.remote == nil:
				return nil
			case h.missingTop != "":
				return h.run(ctx, command{Line: "rm -rf " + shellQuote(h.missingTop)})
			case !h.remote.HasInstaller:
				return h.run(ctx, command{Line: "rm -f " + shellQuote(h.bin()) + " " + shellQuote(h.bin()+".partial")})
			}
			return nil
		},
	}
}

func (r *run) preflightStep(h *Host) *Step {
	line := shellJoin(r.preflightArgs(h)...)
	return &Step{
		Title:    "preflight " + string(h.Role),
		Host:     h,
		Commands: []string{line},
		Skip:     h.isDone,
		Run: func(ctx context.Context) error {
			err := runPreflight(ctx, h, line)
			if err != nil && r.opts.SkipPreflight {
				h.logf("WARNING: --skip-preflight: going on despite: %v", err)
				return nil
			}
			return err
		},
	}
}

func (r *run) copyStep(h *Host) *Step {
	cmds := []string{"for each file: " + probeCommand(h.path("FILE")) + "; then cat > FILE.partial (or >> from the cut point), sha256sum, chmod, mv -f FILE.partial FILE"}
	names := []string{r.bundleName() + " (and the files beside it)", r.keyName()}
	if bf, err := bundleFileNames(r.bundlePath); err == nil {
		names = names[1:]
		for i := len(bf) - 1; i >= 0; i-- {
			names = append([]string{filepath.Base(bf[i])}, names...)
		}
	}
	for _, chart := range sortedKeys(r.c.Values) {
		names = append(names, valuesName(chart))
	}
	cmds = append(cmds, "files: "+strings.Join(names, ", "),
		"umask 077 && cat > "+shellQuote(h.path(tokenName))+".tmp && chmod 600 ... && mv -f ...   (the token on stdin, never on a command line)")
	if cfg, _ := r.c.hostConfig(h); cfg != nil {
		cmds = append(cmds, "umask 077 && cat > "+shellQuote(h.path(configName))+".tmp ...   (k3s flags: "+strings.TrimSpace(strings.ReplaceAll(string(cfg), "\n", "; "))+")")
	}
	return &Step{
		Title:    "copy the bundle, key, token and site files to " + h.WorkDir,
		Host:     h,
		Commands: cmds,
		Skip:     h.isDone,
		Run: func(ctx context.Context) error {
			files := append(append([]*localFile{}, r.bundle.Files...), r.key)
			for _, chart := range sortedKeys(r.values) {
				files = append(files, r.values[chart])
			}
			if err := sendFiles(ctx, h, files, r.opts.CopyTimeout); err != nil {
				return err
			}
			if err := sendSecret(ctx, h, tokenName, []byte(r.token+"\n")); err != nil {
				return err
			}
			cfg, err := r.c.hostConfig(h)
			if err != nil || cfg == nil {
				return err
			}
			return sendSecret(ctx, h, configName, cfg)
		},
	}
}

func (r *run) installStep(h *Host) *Step {
	line, _, err := r.installLine(h)
	if err != nil {
		line = "(" + err.Error() + ")"
	}
	return &Step{
		Title: "install " + string(h.Role) + " and wait until it is Ready",
		Host:  h,
		Commands: []string{line + "   (on failure it rolls this host back by itself)",
			"rm -f " + shellQuote(h.path(tokenName)) + "   (in the same command line, whatever the install's outcome)",
			h.statusCommand() + "   (until nodeReady, at most " + r.opts.readyTimeout().String() + ")",
			"cat > " + shellQuote(h.path(deployedFile)) + "   (the settings digest, for reruns)"},
		Skip: h.isDone,
		Run:  func(ctx context.Context) error { return r.install(ctx, h) },
	}
}

func (r *run) install(ctx context.Context, h *Host) error {
	line, config, err := r.installLine(h)
	if err != nil {
		return err
	}
	// The staged token goes as soon as the install ends; again on its own
	// when the install was cut (its timeout kills the whole command line).
	rm := "rm -f " + shellQuote(h.path(tokenName))
	err = h.run(ctx, command{Line: line + "; rc=$?; " + rm + "; exit $rc", Timeout: r.opts.installTimeout()})
	if err != nil {
		if rmErr := h.run(context.WithoutCancel(ctx), command{Line: rm}); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove the staged token: %w", rmErr))
		}
		return fmt.Errorf("ferry-install %s: %w", h.Role, err)
	}
	if _, err := waitReady(ctx, h, r.opts.readyTimeout()); err != nil {
		return err
	}
	if err := r.record(ctx, h, r.settings(h, line, config)); err != nil {
		return err
	}
	h.finished = true
	return nil
}

// record writes deployed.json on h.
func (r *run) record(ctx context.Context, h *Host, settings string) error {
	m := r.bundle.Manifest
	b, err := json.Marshal(deployedRecord{Settings: settings, Bundle: m.Name, Version: m.Version,
		ManifestSHA256: r.bundle.ManifestSHA256, At: time.Now().UTC()})
	if err != nil {
		return err
	}
	return sendSecret(ctx, h, deployedFile, append(b, '\n'))
}

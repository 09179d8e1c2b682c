package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// ErrNotNewer: the bundle is older than, or the same as, the installed one
// (or has another name), and neither AllowDowngrade nor Reinstall allowed
// it. Nothing was changed.
var ErrNotNewer = errors.New("the bundle is not newer than the installed one")

// carriedToken stands in for the cluster token when an upgrade renders
// files from state.json, which holds no secrets. Files that would carry it
// (the env file) are never rendered by an upgrade: the installed one stays.
const carriedToken = "ferry-upgrade-carries-the-installed-token"

// UpgradeOptions describe one upgrade. Host and Bundle are required.
type UpgradeOptions struct {
	// RunOptions: the host (required); the service, which stops k3s
	// before the swap, starts it after and waits for the node (nil swaps
	// the files only, --no-start); the timeout of each wait (the new
	// version's, then, after a rollback, the previous one's); dry run,
	// log and clock.
	RunOptions
	// Bundle is the new bundle stream; ReadOptions carry the trusted key
	// (an expired bundle is refused unless they allow it).
	Bundle      io.Reader
	ReadOptions []bundle.ReadOption
	// AllowDowngrade accepts a bundle older than the installed one.
	AllowDowngrade bool
	// Reinstall accepts the installed version again, or a bundle of
	// another name.
	Reinstall bool
	// SiteValues are merged, chart by chart and key by key, over the site
	// values the install kept; without any the kept ones carry over.
	SiteValues map[string]map[string]any
	// Config, when not nil, replaces the extra k3s flags: config.yaml is
	// rendered anew from the recorded node options and Config. nil keeps
	// the installed config.yaml as it is. The env file (the token) always
	// carries over.
	Config map[string]any
}

// UpgradeResult describes a finished upgrade.
type UpgradeResult struct {
	From BundleRecord `json:"from"`
	To   BundleRecord `json:"to"`
	// Files is the number of files and links of the new install.
	Files   int  `json:"files"`
	Started bool `json:"started"`
	DryRun  bool `json:"dryRun,omitempty"`
	// State is what was recorded (nil for a dry run).
	State *State `json:"-"`
}

// Upgrade replaces the installed bundle with a newer one. It verifies the
// whole new bundle into staging before it changes anything, then, with a
// Service, stops k3s, swaps the files (keeping the previous ones below
// PreviousDir), starts k3s and waits for the node. If the node is not
// Ready in time it moves the previous files back, starts k3s again, waits
// again and returns an error matching ErrRolledBack. state.json is written
// last: a crash at any step leaves a journal from which the next run
// reverts to the previous install. config.yaml, the token and the site
// values carry over unless Config or SiteValues are given.
func Upgrade(ctx context.Context, opts UpgradeOptions) (*UpgradeResult, error) {
	if opts.Host == nil || opts.Bundle == nil {
		return nil, errors.New("upgrade: a host and a bundle are required")
	}
	opts.RunOptions = opts.RunOptions.withDefaults()
	log := opts.Log
	if !opts.DryRun {
		l, err := lockRoot(ctx, opts.Host)
		if err != nil {
			return nil, err
		}
		defer l.unlock(log)
		if err := recoverStale(ctx, opts.Host, log); err != nil {
			return nil, err
		}
	}
	cur, err := ReadState(ctx, opts.Host)
	if err != nil {
		return nil, fmt.Errorf("upgrade: %w: install first with 'ferry-install server' or 'agent'", err)
	}
	if err := checkRecords(cur); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	r, err := bundle.NewReader(ctx, opts.Bundle, opts.ReadOptions...)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer r.Close()
	m := r.Manifest()
	if err := checkNewer(cur.Bundle, m, opts); err != nil {
		return nil, err
	}
	site, err := carriedSiteValues(ctx, opts.Host, cur, m, opts.SiteValues, log)
	if err != nil {
		return nil, err
	}
	iopts := InstallOptions{RunOptions: opts.RunOptions, Node: nodeFromState(cur, opts.Config), SiteValues: site, Arch: cur.Arch, Init: cur.Service.Init}
	if err := validateBundle(m, &iopts); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(r.ManifestBytes())
	p := &plan{opts: iopts, host: opts.Host, reader: r, manifest: m, manifestSHA256: hex.EncodeToString(sum[:]), keyID: r.SignerKeyID(), id: newID()}
	next := *cur
	next.Bundle = BundleRecord{Name: m.Name, Version: m.Version, K3sVersion: m.K3sVersion, ManifestSHA256: p.manifestSHA256, KeyID: p.keyID, Unsigned: p.keyID == ""}
	next.Service.Started = cur.Service.Started || opts.Service != nil
	res := &UpgradeResult{From: cur.Bundle, To: next.Bundle, DryRun: opts.DryRun, Started: opts.Service != nil}

	rp := &upgradeRenderPhase{p: p, cur: cur, renderConfig: opts.Config != nil}
	sw := &swap{host: opts.Host, id: p.id, current: cur, dryRun: opts.DryRun}
	sw.source = func(f FileRecord) string { return rp.sources[f.Path] }
	rp.sw = sw
	phases := []Phase{&stagePhase{p: p}, rp}
	svc := serviceSteps{svc: opts.Service, name: cur.Service.Name, timeout: opts.Timeout, wasStarted: cur.Service.Started}
	if opts.Service != nil {
		phases = append(phases, &stopPhase{s: svc})
	}
	phases = append(phases, sw)
	if opts.Service != nil {
		phases = append(phases, &swapStartPhase{s: svc})
	}
	commit := &commitPhase{host: opts.Host, sw: sw, next: next, now: p.opts.now}
	phases = append(phases, commit)
	mgr := &Manager{Phases: phases, Log: log}
	if opts.DryRun {
		if err := mgr.DryRun(ctx, iopts.DryRunOutput); err != nil {
			return nil, err
		}
		res.Files = len(sw.target)
		return res, nil
	}
	if err := mgr.Run(ctx); err != nil {
		return nil, rolledBackMessage(err, fmt.Sprintf("upgrade from %s %s to %s %s", cur.Bundle.Name, cur.Bundle.Version, m.Name, m.Version),
			fmt.Sprintf("%s %s is in place again", cur.Bundle.Name, cur.Bundle.Version), opts.Service != nil)
	}
	finish(ctx, opts.Host, sw, commit.state, log)
	res.Files, res.State = len(commit.state.Files), commit.state
	return res, nil
}

// checkNewer refuses a bundle of another name, or one that is not newer,
// unless the options allow it.
func checkNewer(cur BundleRecord, m *bundle.Manifest, opts UpgradeOptions) error {
	if m.Name != cur.Name && !opts.Reinstall {
		return fmt.Errorf("%w: bundle %s %s is not the installed %s %s: pass --reinstall to replace it anyway", ErrNotNewer, m.Name, m.Version, cur.Name, cur.Version)
	}
	switch c := compareVersions(m.Version, cur.Version); {
	case c < 0 && !opts.AllowDowngrade:
		return fmt.Errorf("%w: bundle %s %s is older than the installed %s: pass --allow-downgrade to go back to it", ErrNotNewer, m.Name, m.Version, cur.Version)
	case c == 0 && !opts.Reinstall:
		return fmt.Errorf("%w: %s %s is installed already: pass --reinstall to install it again", ErrNotNewer, m.Name, m.Version)
	}
	return nil
}

// nodeFromState rebuilds the node's options from state.json for rendering.
// It has no secrets: files that hold them are carried over, never rendered.
func nodeFromState(st *State, extra map[string]any) manifests.Node {
	n := st.Node
	node := manifests.Node{Role: st.Role, ClusterInit: n.ClusterInit, Server: n.Server, TLSSANs: n.TLSSANs,
		NodeLabels: n.NodeLabels, NodeTaints: n.NodeTaints, RegistryMirrors: n.RegistryMirrors, Extra: extra}
	if n.Server != "" {
		node.Token = carriedToken
	}
	return node
}

// carriedSiteValues reads the site values the install kept, drops those of
// charts the new bundle no longer carries, and merges extra over them.
func carriedSiteValues(ctx context.Context, h Host, st *State, m *bundle.Manifest, extra map[string]map[string]any, log io.Writer) (SiteValues, error) {
	site := SiteValues{}
	for _, f := range st.Files {
		if f.Path != SiteValuesFile {
			continue
		}
		if ok, err := readJSON(ctx, h, SiteValuesFile, &site); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("read %s: missing or damaged: give the site values again with --values/--set", SiteValuesFile)
		}
	}
	known := map[string]bool{manifests.TraefikChartName: true}
	for _, c := range m.Charts {
		known[c.Name] = true
	}
	for name := range site {
		if !known[name] {
			fmt.Fprintf(log, "dropping the kept site values of chart %s: the new bundle does not carry it\n", name)
			delete(site, name)
		}
	}
	for name, v := range extra {
		site[name] = mergeMaps(site[name], v)
	}
	if len(site) == 0 {
		return nil, nil
	}
	return site, nil
}

// rolledBackMessage rewords a rolled-back failure of op: what failed, and
// that the previous install is back (and runs, when started is true).
func rolledBackMessage(err error, op, back string, started bool) error {
	var rb *RolledBackError
	if !errors.As(err, &rb) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if started {
		back += ", k3s was restarted and its node is Ready"
	}
	return &RolledBackError{Err: fmt.Errorf("%s failed: %w; rolled back: %s", op, rb.Err, back)}
}

// finish removes the staging directory and the previous install the
// committed state no longer keeps. Failures are only warnings: the next
// run cleans up.
func finish(ctx context.Context, h Host, sw *swap, st *State, log io.Writer) {
	if err := h.RemoveAll(ctx, sw.staging()); err != nil {
		fmt.Fprintf(log, "warning: %v (done; the next run removes it)\n", err)
	}
	if err := prunePrevious(ctx, h, st); err != nil {
		fmt.Fprintf(log, "warning: %v (done; the next run removes it)\n", err)
	}
}

package installer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"runtime"
	"slices"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/service"
	"github.com/ferry-k3s/ferry/manifests"
)

// Init systems the installer writes service files for.
const (
	InitSystemd = service.InitSystemd
	InitOpenRC  = service.InitOpenRC
)

// InstallOptions describe one install. Host, Bundle and Node.Role are required.
type InstallOptions struct {
	// RunOptions: the host (required), the service (nil: --no-start),
	// the wait, dry run, log and clock.
	RunOptions
	// Bundle is the bundle stream; ReadOptions carry the trusted key.
	Bundle      io.Reader
	ReadOptions []bundle.ReadOption
	// Node shapes the generated files. A server that starts a cluster and
	// has no Token gets a generated one.
	Node manifests.Node
	// SiteValues are the site's chart values by chart name (see
	// ParseSiteValues); they win over the bundle's values.
	SiteValues map[string]map[string]any
	// Arch is the host's architecture (default runtime.GOARCH).
	Arch string
	// Init is InitSystemd or InitOpenRC (default: detected from the root).
	Init string
	// Preflight runs the host checks; nil skips them. It returns an error
	// wrapping ErrPreflight when a check failed.
	Preflight func(ctx context.Context, m *bundle.Manifest) error
}

func (o *InstallOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// InstallResult describes a finished install.
type InstallResult struct {
	Bundle  string `json:"bundle"`
	Version string `json:"version"`
	Role    string `json:"role"`
	// Token is the cluster token; Generated says the installer made it.
	Token     string `json:"token,omitempty"`
	Generated bool   `json:"tokenGenerated,omitempty"`
	// Files is the number of files and links placed.
	Files int `json:"files"`
	// Node is the node's options as recorded (no secrets).
	Node    NodeRecord `json:"node"`
	Started bool       `json:"started"`
	DryRun  bool       `json:"dryRun,omitempty"`
	// State is what was recorded (nil for a dry run).
	State *State `json:"-"`
}

// Install verifies the bundle into staging, places it on the host and,
// with a Service, starts k3s and waits for the node. Bad options and
// missing chart values are reported before anything changes; a failure
// later undoes every change and returns an error matching ErrRolledBack.
func Install(ctx context.Context, opts InstallOptions) (*InstallResult, error) {
	if opts.Host == nil || opts.Bundle == nil {
		return nil, errors.New("install: a host and a bundle are required")
	}
	opts.RunOptions = opts.RunOptions.withDefaults()
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.Init == "" {
		opts.Init = detectInit(ctx, opts.Host)
	}
	res := &InstallResult{Role: string(opts.Node.Role), DryRun: opts.DryRun}
	if err := validateNode(&opts, res); err != nil {
		return nil, err
	}
	var lockDirs []string
	if !opts.DryRun {
		l, err := lockRoot(ctx, opts.Host)
		if err != nil {
			return nil, err
		}
		defer l.unlock(opts.Log)
		lockDirs = l.held.Created()
		if err := recoverStale(ctx, opts.Host, opts.Log); err != nil {
			return nil, err
		}
	}
	if _, err := ReadState(ctx, opts.Host); err == nil {
		return nil, ErrInstalled
	} else if !errors.Is(err, ErrNotInstalled) {
		return nil, err
	}
	r, err := bundle.NewReader(ctx, opts.Bundle, opts.ReadOptions...)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer r.Close()
	m := r.Manifest()
	res.Bundle, res.Version = m.Name, m.Version
	if err := validateBundle(m, &opts); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(r.ManifestBytes())
	p := &plan{opts: opts, host: opts.Host, reader: r, manifest: m, manifestSHA256: hex.EncodeToString(sum[:]), keyID: r.SignerKeyID(), id: newID(), ferryDirs: lockDirs}
	p.state = newState(p)
	res.Node = p.state.Node
	phases := buildPhases(p)
	mgr := &Manager{Phases: phases, Log: opts.Log}
	if opts.DryRun {
		if err := mgr.DryRun(ctx, opts.DryRunOutput); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := mgr.Run(ctx); err != nil {
		return nil, err
	}
	if err := opts.Host.RemoveAll(ctx, p.staging()); err != nil {
		fmt.Fprintf(opts.Log, "warning: %v (the install is complete; remove it by hand)\n", err)
	}
	res.Files, res.Started, res.State = len(p.items), opts.Service != nil, p.state
	return res, nil
}

func buildPhases(p *plan) []Phase {
	var phases []Phase
	if p.opts.Preflight != nil {
		phases = append(phases, &preflightPhase{p: p})
	}
	phases = append(phases, &stagePhase{p: p}, &renderPhase{p: p}, &placePhase{p: p}, &recordPhase{p: p})
	if p.opts.Service != nil {
		phases = append(phases, &startPhase{p: p})
	}
	return phases
}

// validateNode checks the node options and, for a first server, makes a
// token. Nothing has changed yet.
func validateNode(opts *InstallOptions, res *InstallResult) error {
	n := &opts.Node
	if n.Server != "" {
		u, err := url.Parse(n.Server)
		if err != nil || u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("server URL %q is not https://HOST:PORT: give the first server's address, e.g. https://10.0.0.1:6443", manifests.Redact(n.Server))
		}
		if u.User != nil {
			return fmt.Errorf("server URL %q holds a user name or password: k3s joins with the cluster token, pass it with --token and give https://HOST:PORT", manifests.Redact(n.Server))
		}
	}
	if n.Role == manifests.RoleServer && n.Server == "" && n.Token == "" {
		tok, err := NewToken()
		if err != nil {
			return err
		}
		n.Token, res.Generated = tok, true
	}
	res.Token = n.Token
	if err := n.Validate(); err != nil {
		return err
	}
	switch opts.Init {
	case InitSystemd, InitOpenRC:
	default:
		return fmt.Errorf("init system %q is unknown: use %q or %q", opts.Init, InitSystemd, InitOpenRC)
	}
	return nil
}

// validateBundle checks what can be checked from the manifest alone:
// the host's arch is carried, site values name bundled charts, required
// values are present, and the templates render.
func validateBundle(m *bundle.Manifest, opts *InstallOptions) error {
	if !slices.Contains(m.Arches, opts.Arch) {
		return fmt.Errorf("bundle %s %s carries arches %v, not this host's %s: build a bundle with k3s.arch including %s", m.Name, m.Version, m.Arches, opts.Arch, opts.Arch)
	}
	known := map[string]bool{manifests.TraefikChartName: true}
	for _, c := range m.Charts {
		known[c.Name] = true
	}
	for name := range opts.SiteValues {
		if !known[name] {
			return fmt.Errorf("site values name chart %q, which is not in the bundle: use one of %v", name, chartNames(m))
		}
	}
	var errs []error
	for _, c := range m.Charts {
		if opts.Node.Role != manifests.RoleServer {
			break // charts are installed by servers only
		}
		if err := manifests.CheckChart(c, manifests.MergeValues(c.Values, opts.SiteValues[c.Name])); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// A trial render with the embedded templates catches bad --config keys
	// before anything changes.
	tmpl, err := manifests.Load(nil)
	if err != nil {
		return err
	}
	p := &plan{opts: *opts, manifest: m}
	gen, err := renderFiles(p, tmpl, nil)
	if err != nil {
		return err
	}
	return checkFileEntries(p, gen)
}

// checkFileEntries refuses a bundle's files: entries that would land where
// ferry writes state, or on a file ferry generates or places itself (the
// env file holding the token, config.yaml, the units, k3s, the multicall
// links...). Install and upgrade share it, so an upgrade cannot replace
// what a fresh install of the same bundle would refuse.
func checkFileEntries(p *plan, gen []generated) error {
	reserved := map[string]string{StateFile: "ferry's state", LockFile: "ferry's lock"}
	for _, g := range gen {
		reserved[g.Dest] = "a file ferry-install generates"
	}
	n := p.opts.Node
	for _, dest := range []string{n.EnvPath(), ConfigFile, RegistryFile, n.UnitPath(), n.OpenRCPath(), n.UninstallPath(), KillallScript} {
		reserved[dest] = "a file ferry-install generates"
	}
	for _, name := range multicall {
		reserved[path.Join(BinDir, name)] = "a link ferry-install makes to k3s"
	}
	for _, e := range p.manifest.Entries {
		if e.Role == bundle.RoleFile {
			continue
		}
		if dest, _ := p.entryDest(e); dest != "" {
			reserved[dest] = "where ferry-install places the bundle's " + string(e.Role)
		}
	}
	for _, e := range p.manifest.Entries {
		if e.Role != bundle.RoleFile {
			continue
		}
		if err := checkFileDest(e.Path, e.HostPath); err != nil {
			return err
		}
		if what, ok := reserved[e.HostPath]; ok {
			return fmt.Errorf("bundle entry %s: hostPath %s is %s: rebuild the bundle without it (site settings go in --config, template overrides in templates/)", e.Path, e.HostPath, what)
		}
	}
	return nil
}

func chartNames(m *bundle.Manifest) []string {
	var names []string
	for _, c := range m.Charts {
		names = append(names, c.Name)
	}
	return names
}

// NewToken returns a cluster token: 32 bytes from crypto/rand, hex.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// detectInit picks OpenRC when the root has openrc-run and no systemd.
func detectInit(ctx context.Context, h Host) string {
	if service.InitOf(func(p string) bool { return exists(ctx, h, p) }) == service.InitOpenRC {
		return InitOpenRC
	}
	return InitSystemd
}

func newState(p *plan) *State {
	n := p.opts.Node
	st := &State{
		Format: StateFormat,
		ID:     p.id,
		Bundle: BundleRecord{Name: p.manifest.Name, Version: p.manifest.Version, K3sVersion: p.manifest.K3sVersion,
			ManifestSHA256: p.manifestSHA256, KeyID: p.keyID, Unsigned: p.keyID == ""},
		Role: n.Role,
		Arch: p.opts.Arch,
		Node: NodeRecord{ClusterInit: n.ClusterInit, Server: manifests.Redact(n.Server), DatastoreEndpoint: redactURI(n.DatastoreEndpoint),
			TLSSANs: n.TLSSANs, NodeLabels: n.NodeLabels, NodeTaints: n.NodeTaints, RegistryMirrors: redactAll(n.RegistryMirrors)},
		Service: ServiceRecord{Init: p.opts.Init, Name: n.ServiceName(), Started: p.opts.Service != nil},
	}
	return st
}

// redactURI drops the password from a datastore URI: user:password and
// password-like query parameters (manifests.Redact).
func redactURI(s string) string {
	if s == "" {
		return ""
	}
	return manifests.Redact(s)
}

// redactAll redacts each of a list of URLs.
func redactAll(urls []string) []string {
	var out []string
	for _, u := range urls {
		out = append(out, manifests.Redact(u))
	}
	return out
}

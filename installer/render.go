package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"testing/fstest"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// generated is one file rendered for the host.
type generated struct {
	Dest string
	Mode fs.FileMode
	Body []byte
}

// renderFiles renders every generated file for the node from tmpl: config,
// registries, service files, scripts, HelmChart objects and .cache.json.
// placed lists the bundle files that will be placed, for the uninstall
// script.
func renderFiles(p *plan, tmpl *manifests.Templates, placed []string) ([]generated, error) {
	n := p.opts.Node
	var out []generated
	add := func(dest string, mode fs.FileMode, b []byte) {
		out = append(out, generated{Dest: dest, Mode: mode, Body: b})
	}

	cfg, err := tmpl.Config(n)
	if err != nil {
		return nil, fmt.Errorf("render config.yaml: %w", err)
	}
	add(ConfigFile, 0o600, cfg)
	if reg, ok, err := tmpl.Registries(n); err != nil {
		return nil, fmt.Errorf("render registries.yaml: %w", err)
	} else if ok {
		add(RegistryFile, registriesMode(n), reg)
	}
	envName, env, err := tmpl.Env(n)
	if err != nil {
		return nil, fmt.Errorf("render env file: %w", err)
	}
	add(path.Join(SystemdDir, envName), 0o600, env)
	if p.opts.Init == InitOpenRC {
		name, body, err := tmpl.OpenRC(n)
		if err != nil {
			return nil, fmt.Errorf("render OpenRC script: %w", err)
		}
		add(path.Join(OpenRCDir, name), 0o755, body)
	} else {
		name, body, err := tmpl.Unit(n)
		if err != nil {
			return nil, fmt.Errorf("render systemd unit: %w", err)
		}
		add(path.Join(SystemdDir, name), 0o644, body)
	}
	killall, err := tmpl.Killall()
	if err != nil {
		return nil, fmt.Errorf("render k3s-killall.sh: %w", err)
	}
	add(KillallScript, 0o755, killall)
	add(path.Join(ImagesDir, ".cache.json"), 0o644, nil)
	if n.Role == manifests.RoleServer {
		charts, err := renderCharts(p)
		if err != nil {
			return nil, err
		}
		out = append(out, charts...)
		if len(p.opts.SiteValues) > 0 {
			b, err := json.Marshal(p.opts.SiteValues)
			if err != nil {
				return nil, fmt.Errorf("encode site values: %w", err)
			}
			add(SiteValuesFile, 0o600, b)
		}
	}
	// The uninstall script lists every file placed, itself and state.json.
	files := append([]string(nil), placed...)
	for _, g := range out {
		files = append(files, g.Dest)
	}
	files = append(files, n.UninstallPath(), StateFile)
	name, body, err := tmpl.Uninstall(n, files)
	if err != nil {
		return nil, fmt.Errorf("render uninstall script: %w", err)
	}
	add(path.Join(BinDir, name), 0o755, body)
	return out, nil
}

// registriesMode is 0644, or 0600 when a mirror URL carried credentials
// (then in registries.yaml's configs section).
func registriesMode(n manifests.Node) fs.FileMode {
	for _, m := range n.RegistryMirrors {
		if manifests.MirrorHasCredentials(m) {
			return 0o600
		}
	}
	return 0o644
}

// renderCharts renders a HelmChart per bundled chart (values: spec < site)
// and the Traefik HelmChartConfig when the bundle or the site customise it.
func renderCharts(p *plan) ([]generated, error) {
	var out []generated
	for _, c := range p.manifest.Charts {
		values := manifests.MergeValues(c.Values, p.opts.SiteValues[c.Name])
		b, err := manifests.HelmChart(c, values)
		if err != nil {
			return nil, fmt.Errorf("render HelmChart %s: %w", c.Name, err)
		}
		out = append(out, generated{Dest: path.Join(ManifestsDir, "ferry-chart-"+c.Name+".yaml"), Mode: 0o600, Body: b})
	}
	if traefik := traefikValues(p.manifest, p.opts.SiteValues); traefik != nil {
		b, err := manifests.HelmChartConfig(traefik)
		if err != nil {
			return nil, fmt.Errorf("render Traefik HelmChartConfig: %w", err)
		}
		out = append(out, generated{Dest: path.Join(ManifestsDir, "ferry-traefik-config.yaml"), Mode: 0o600, Body: b})
	}
	return out, nil
}

// traefikValues merges the bundle's Traefik values with the site's values
// for "traefik" (unless a bundled chart has that name); nil when neither
// has any.
func traefikValues(m *bundle.Manifest, site map[string]map[string]any) map[string]any {
	for _, c := range m.Charts {
		if c.Name == manifests.TraefikChartName {
			return nil
		}
	}
	if len(m.Traefik) == 0 && len(site[manifests.TraefikChartName]) == 0 {
		return nil
	}
	return manifests.MergeValues(m.Traefik, site[manifests.TraefikChartName])
}

// loadTemplates loads the embedded templates with the bundle's overrides.
func loadTemplates(overrides map[string][]byte) (*manifests.Templates, error) {
	if len(overrides) == 0 {
		return manifests.Load(nil)
	}
	fsys := fstest.MapFS{}
	for name, b := range overrides {
		fsys[name] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	t, err := manifests.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("bundle templates: %w", err)
	}
	return t, nil
}

// renderPhase renders the generated files into staging and adds them, and
// the kubectl, crictl and ctr links, to the items to place.
type renderPhase struct {
	p *plan
}

func (s *renderPhase) Title() string { return "render configuration" }

func (s *renderPhase) files() ([]generated, error) {
	tmpl, err := loadTemplates(s.p.templates)
	if err != nil {
		return nil, err
	}
	return renderFiles(s.p, tmpl, placedPaths(s.p))
}

// placedPaths lists what an install of p places from the bundle, plus the
// multicall links: the files the uninstall script removes.
func placedPaths(p *plan) []string {
	var placed []string
	for _, it := range p.items {
		placed = append(placed, it.Dest)
	}
	for _, name := range multicall {
		placed = append(placed, path.Join(BinDir, name))
	}
	return placed
}

func (s *renderPhase) Run(ctx context.Context) error {
	gen, err := s.files()
	if err != nil {
		return err
	}
	if err := s.p.stageGenerated(ctx, gen); err != nil {
		return err
	}
	s.addLinks()
	return nil
}

func (s *renderPhase) addLinks() {
	for _, name := range multicall {
		s.p.items = append(s.p.items, item{Dest: path.Join(BinDir, name), Link: "k3s", IfAbsent: true})
	}
}

func (s *renderPhase) DryRun(ctx context.Context, w io.Writer) error {
	gen, err := s.files()
	if err != nil {
		return err
	}
	s.p.describeGenerated(w, gen)
	s.addLinks()
	return nil
}

// Undo has nothing to do: the rendered files live in staging, which the
// stage phase removes.
func (s *renderPhase) Undo(ctx context.Context) error { return nil }

// stageGenerated writes rendered files into staging as items to place.
func (p *plan) stageGenerated(ctx context.Context, gen []generated) error {
	for i, g := range gen {
		rel := fmt.Sprintf("%02d-%s", i, path.Base(g.Dest))
		if err := p.stageBytes(ctx, rel, g.Dest, g.Body, g.Mode); err != nil {
			return fmt.Errorf("stage %s: %w", g.Dest, err)
		}
	}
	return nil
}

// describeGenerated is stageGenerated for a dry run: it prints each file
// and records the item without writing anything.
func (p *plan) describeGenerated(w io.Writer, gen []generated) {
	for i, g := range gen {
		src := path.Join(p.staging(), "render", fmt.Sprintf("%02d-%s", i, path.Base(g.Dest)))
		fmt.Fprintf(w, "write %s %04o %d bytes\n", src, g.Mode, len(g.Body))
		p.items = append(p.items, item{Src: src, Dest: g.Dest, Mode: g.Mode, Size: int64(len(g.Body)), SHA256: sha256Hex(g.Body)})
	}
}

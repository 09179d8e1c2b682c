package installer

import (
	"context"
	"io"

	"github.com/ferry-k3s/ferry/manifests"
)

// upgradeRenderPhase renders the new install's generated files into
// staging and sets the swap's target: the staged bundle files, the
// rendered files, and the files that carry over unchanged (the env file
// with the token, config.yaml unless it is rendered anew, the kubectl,
// crictl and ctr links).
type upgradeRenderPhase struct {
	p            *plan
	cur          *State
	sw           *swap
	renderConfig bool
	sources      map[string]string
}

func (s *upgradeRenderPhase) Title() string { return "render configuration" }

func (s *upgradeRenderPhase) files() ([]generated, error) {
	tmpl, err := loadTemplates(s.p.templates)
	if err != nil {
		return nil, err
	}
	gen, err := renderFiles(s.p, tmpl, placedPaths(s.p))
	if err != nil {
		return nil, err
	}
	var out []generated
	for _, g := range gen {
		if s.carried(g.Dest) {
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// carried reports whether the installed file at dest carries over as it
// is instead of being rendered: the env file (the token), config.yaml
// unless --config renders it anew, and registries.yaml when its mirror
// credentials were redacted from state.json.
func (s *upgradeRenderPhase) carried(dest string) bool {
	switch dest {
	case s.p.opts.Node.EnvPath():
		return true
	case ConfigFile:
		return !s.renderConfig
	case RegistryFile:
		for _, m := range s.cur.Node.RegistryMirrors {
			if manifests.IsRedacted(m) {
				return true
			}
		}
	}
	return false
}

func (s *upgradeRenderPhase) Run(ctx context.Context) error {
	gen, err := s.files()
	if err != nil {
		return err
	}
	if err := s.p.stageGenerated(ctx, gen); err != nil {
		return err
	}
	s.setTarget()
	return nil
}

func (s *upgradeRenderPhase) DryRun(ctx context.Context, w io.Writer) error {
	gen, err := s.files()
	if err != nil {
		return err
	}
	s.p.describeGenerated(w, gen)
	s.setTarget()
	return nil
}

// setTarget turns the staged items and the carried records into the
// swap's target.
func (s *upgradeRenderPhase) setTarget() {
	s.sources = map[string]string{}
	staged := map[string]bool{}
	var target []FileRecord
	for _, it := range s.p.items {
		staged[it.Dest] = true
		s.sources[it.Dest] = it.Src
		target = append(target, FileRecord{Path: it.Dest, SHA256: it.SHA256, Mode: it.Mode, Size: it.Size})
	}
	for _, f := range s.cur.Files {
		carried := f.Link != "" || s.carried(f.Path)
		if carried && !staged[f.Path] {
			target = append(target, FileRecord{Path: f.Path, SHA256: f.SHA256, Mode: f.Mode, Size: f.Size, Link: f.Link})
		}
	}
	s.sw.target = target
}

// Undo has nothing to do: the rendered files live in staging.
func (s *upgradeRenderPhase) Undo(ctx context.Context) error { return nil }

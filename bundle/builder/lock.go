package builder

import (
	"context"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle/spec"
)

// makeLock pins every artifact of the plan.
func (p *Plan) makeLock() *spec.Lock {
	l := &spec.Lock{Version: spec.LockVersion}
	for _, a := range p.Assets {
		l.K3s = append(l.K3s,
			spec.LockedAsset{Arch: a.Arch, Name: a.Names.Binary, URL: a.BinaryURL, SHA256: a.Binary.SHA256, Size: a.Binary.Size},
			spec.LockedAsset{Arch: a.Arch, Name: a.Names.Airgap, URL: a.AirgapURL, SHA256: a.Airgap.SHA256, Size: a.Airgap.Size})
	}
	for _, c := range p.Charts {
		repo := c.Spec.Repo
		if c.Spec.IsLocal() {
			repo = p.relative(repo)
		}
		l.Charts = append(l.Charts, spec.LockedChart{Name: c.Archive.Name, Version: c.Archive.Version, Repo: repo, SHA256: c.Archive.SHA256})
	}
	for _, arch := range p.Spec.K3s.Arch {
		for _, r := range p.Images[arch] {
			l.Images = append(l.Images, spec.LockedImage{Ref: r.Ref, Arch: arch, Digest: r.Digest})
		}
	}
	for _, f := range p.Files {
		src := f.Spec.Source
		if f.Spec.IsLocal() {
			src = p.relative(src)
		}
		l.Files = append(l.Files, spec.LockedAsset{Name: f.Name, URL: src, SHA256: f.File.SHA256, Size: f.File.Size})
	}
	return l
}

// WriteLock resolves the spec and writes its lock file (ferry lock).
func WriteLock(ctx context.Context, o Options) (*Plan, error) {
	o.Locked = false
	p, err := Resolve(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := p.Lock.Write(o.lockPath()); err != nil {
		return nil, err
	}
	return p, nil
}

func (o Options) lockPath() string {
	if o.LockPath != "" {
		return o.LockPath
	}
	return filepath.Join(filepath.Dir(o.SpecPath), spec.LockName)
}

// relative writes a local path of the spec relative to the spec's
// directory, so that a lock made on one machine holds on another.
func (p *Plan) relative(path string) string {
	if p.Spec.Dir == "" || !filepath.IsAbs(path) {
		return path
	}
	if rel, err := filepath.Rel(p.Spec.Dir, path); err == nil {
		return filepath.ToSlash(rel)
	}
	return path
}

package spec

import (
	"cmp"
	"fmt"
	"slices"
)

// Diff lists, one human-readable line each, how other (what a build just
// resolved) differs from l (what the lock pins), e.g.
//
//	image docker.io/library/nginx:1.27 (arm64): locked sha256:aa…, resolved sha256:bb…
//
// It returns nil when they agree. `ferry build --locked` refuses to go on
// when Diff is not empty. Lines come in the order k3s, charts, images, files,
// each sorted by name.
func (l *Lock) Diff(other *Lock) []string {
	var out []string
	out = append(out, diffAssets("k3s asset", l.K3s, other.K3s)...)
	out = append(out, diffCharts(l.Charts, other.Charts)...)
	out = append(out, diffImages(l.Images, other.Images)...)
	out = append(out, diffAssets("file", l.Files, other.Files)...)
	return out
}

// keyed indexes items by key.
func keyed[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[key(it)] = it
	}
	return m
}

// union returns the sorted keys of both maps.
func union[T any](a, b map[string]T) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func assetLabel(kind string, a LockedAsset) string {
	if a.Arch == "" {
		return kind + " " + a.Name
	}
	return fmt.Sprintf("%s %s (%s)", kind, a.Name, a.Arch)
}

func diffAssets(kind string, locked, resolved []LockedAsset) []string {
	key := func(a LockedAsset) string { return a.Name + "\x00" + a.Arch }
	lm := keyed(locked, key)
	rm := keyed(resolved, key)
	var out []string
	for _, k := range union(lm, rm) {
		a, inLock := lm[k]
		b, inResolved := rm[k]
		switch {
		case !inResolved:
			out = append(out, assetLabel(kind, a)+": in the lock but no longer resolved")
		case !inLock:
			out = append(out, assetLabel(kind, b)+": resolved but not in the lock")
		default:
			label := assetLabel(kind, a)
			if a.URL != b.URL {
				out = append(out, fmt.Sprintf("%s: locked URL %s, resolved %s", label, a.URL, b.URL))
			}
			if a.SHA256 != b.SHA256 {
				out = append(out, fmt.Sprintf("%s: locked sha256:%s, resolved sha256:%s", label, a.SHA256, b.SHA256))
			} else if a.Size != b.Size {
				out = append(out, fmt.Sprintf("%s: locked size %d bytes, resolved %d", label, a.Size, b.Size))
			}
		}
	}
	return out
}

func diffCharts(locked, resolved []LockedChart) []string {
	byName := func(cs []LockedChart) map[string][]LockedChart {
		m := map[string][]LockedChart{}
		for _, c := range cs {
			m[c.Name] = append(m[c.Name], c)
		}
		for _, v := range m {
			slices.SortFunc(v, func(a, b LockedChart) int { return cmp.Compare(a.Version, b.Version) })
		}
		return m
	}
	lm, rm := byName(locked), byName(resolved)
	var out []string
	for _, name := range union(lm, rm) {
		ls, rs := lm[name], rm[name]
		// The common case: one version on each side, possibly changed.
		if len(ls) == 1 && len(rs) == 1 && ls[0].Version != rs[0].Version {
			out = append(out, fmt.Sprintf("chart %s: locked version %s, resolved %s", name, ls[0].Version, rs[0].Version))
			continue
		}
		lv := map[string]LockedChart{}
		for _, c := range ls {
			lv[c.Version] = c
		}
		rv := map[string]LockedChart{}
		for _, c := range rs {
			rv[c.Version] = c
		}
		for _, v := range union(lv, rv) {
			a, inLock := lv[v]
			b, inResolved := rv[v]
			switch {
			case !inResolved:
				out = append(out, fmt.Sprintf("chart %s %s: in the lock but no longer resolved", name, v))
			case !inLock:
				out = append(out, fmt.Sprintf("chart %s %s: resolved but not in the lock", name, v))
			default:
				if a.Repo != b.Repo {
					out = append(out, fmt.Sprintf("chart %s %s: locked repo %s, resolved %s", name, v, a.Repo, b.Repo))
				}
				if a.SHA256 != b.SHA256 {
					out = append(out, fmt.Sprintf("chart %s %s: locked sha256:%s, resolved sha256:%s", name, v, a.SHA256, b.SHA256))
				}
			}
		}
	}
	return out
}

func diffImages(locked, resolved []LockedImage) []string {
	key := func(im LockedImage) string { return im.Ref + "\x00" + im.Arch }
	lm := keyed(locked, key)
	rm := keyed(resolved, key)
	var out []string
	for _, k := range union(lm, rm) {
		a, inLock := lm[k]
		b, inResolved := rm[k]
		switch {
		case !inResolved:
			out = append(out, fmt.Sprintf("image %s (%s): in the lock but no longer resolved", a.Ref, a.Arch))
		case !inLock:
			out = append(out, fmt.Sprintf("image %s (%s): resolved but not in the lock", b.Ref, b.Arch))
		case a.Digest != b.Digest:
			out = append(out, fmt.Sprintf("image %s (%s): locked %s, resolved %s", a.Ref, a.Arch, a.Digest, b.Digest))
		}
	}
	return out
}

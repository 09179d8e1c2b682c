package charts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
)

// sourceKind is where a Source's Repo points.
type sourceKind string

const (
	kindRepo     sourceKind = "repo"
	kindOCI      sourceKind = "oci"
	kindLocalDir sourceKind = "dir"
	kindLocalTgz sourceKind = "tgz"
)

// Pull fetches the chart src names into the cache and returns the archive.
//
// Repository and OCI sources need an exact Name and Version; a version the
// source does not have gives a *VersionError listing the versions it has. A
// second Pull of the same repository, name and version is served from the
// cache without any network request. Local directories are packaged
// deterministically (same files, same bytes); local archives are copied as
// they are. With src.Keyring set the .prov file must exist and verify, or
// the error matches ErrProvenance.
func Pull(ctx context.Context, src Source, opts ...Option) (*Archive, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("pull chart %s: %w", src.Name, err)
	}
	kind, err := classify(src.Repo, o)
	if err != nil {
		return nil, err
	}
	c := cache{dir: o.cacheDir}
	var a *Archive
	switch kind {
	case kindRepo, kindOCI:
		if err := checkExact(src, o); err != nil {
			return nil, err
		}
		key := refKey(string(kind), strings.TrimSuffix(src.Repo, "/"), src.Name, src.Version)
		if a, err = c.lookup(key); err != nil {
			return nil, err
		}
		if a != nil && src.Keyring != "" && !exists(a.Path+".prov") {
			a = nil // cached unsigned; fetch again with the provenance file
		}
		if a == nil {
			fetch := pullRepo
			if kind == kindOCI {
				fetch = pullOCI
			}
			if a, err = fetch(ctx, c, src, o); err != nil {
				return nil, err
			}
			if err := c.remember(key, a); err != nil {
				return nil, err
			}
		}
	case kindLocalDir:
		if a, err = packageDir(c, src); err != nil {
			return nil, err
		}
	case kindLocalTgz:
		if a, err = copyArchive(c, src); err != nil {
			return nil, err
		}
	}
	if src.Keyring != "" {
		if err := verifyProvenance(a, src.Keyring); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// classify tells where repo points. Anything that is not a URL must be an
// existing local directory or .tgz file.
func classify(repo string, o *options) (sourceKind, error) {
	switch {
	case repo == "":
		return "", fmt.Errorf("chart has no repo: set %s to a repository URL, oci:// reference or local path", o.fieldHint("repo"))
	case strings.HasPrefix(repo, "oci://"):
		return kindOCI, nil
	case strings.HasPrefix(repo, "https://"), strings.HasPrefix(repo, "http://"):
		return kindRepo, nil
	case strings.Contains(repo, "://"):
		return "", fmt.Errorf("chart repo %q has an unsupported scheme: use https://, http://, oci:// or a local path (fix %s)", repo, o.fieldHint("repo"))
	}
	fi, err := os.Stat(repo)
	if err != nil {
		return "", fmt.Errorf("chart repo %q is not a URL and not a readable local path: %w (fix %s)", repo, err, o.fieldHint("repo"))
	}
	if fi.IsDir() {
		return kindLocalDir, nil
	}
	if strings.HasSuffix(repo, ".tgz") || strings.HasSuffix(repo, ".tar.gz") {
		return kindLocalTgz, nil
	}
	return "", fmt.Errorf("chart repo %q is a file but not a .tgz chart archive (fix %s)", repo, o.fieldHint("repo"))
}

// checkExact refuses a missing name, a missing version and version ranges.
func checkExact(src Source, o *options) error {
	if src.Name == "" {
		return fmt.Errorf("chart from %s has no name: set %s", src.Repo, o.fieldHint("name"))
	}
	if src.Version == "" {
		return fmt.Errorf("chart %s from %s has no version: set %s to an exact version", src.Name, src.Repo, o.fieldHint("version"))
	}
	if strings.ContainsAny(src.Version, "^~<>=*|, ") || strings.HasSuffix(src.Version, ".x") {
		return fmt.Errorf("chart %s version %q is a range: set %s to one exact version", src.Name, src.Version, o.fieldHint("version"))
	}
	return nil
}

// checkArchive loads data as a chart and checks it is the chart asked for.
// It returns the name and version from Chart.yaml.
func checkArchive(data []byte, src Source, where string) (name, version string, err error) {
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return "", "", fmt.Errorf("load chart %s from %s: %w", src.Name, where, err)
	}
	name, version = ch.Metadata.Name, ch.Metadata.Version
	if src.Name != "" && name != src.Name {
		return "", "", fmt.Errorf("chart from %s is named %q, not %q: fix the chart name", where, name, src.Name)
	}
	if src.Version != "" && version != src.Version {
		return "", "", fmt.Errorf("chart %s from %s has version %s, not %s: fix the chart version", name, where, version, src.Version)
	}
	return name, version, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

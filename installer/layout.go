package installer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Host paths of the k3s layout (SPEC §6, the same as k3s's install script).
const (
	BinDir        = "/usr/local/bin"
	K3sBinary     = "/usr/local/bin/k3s"
	KillallScript = "/usr/local/bin/k3s-killall.sh"
	ConfigDir     = "/etc/rancher/k3s"
	ConfigFile    = "/etc/rancher/k3s/config.yaml"
	RegistryFile  = "/etc/rancher/k3s/registries.yaml"
	SystemdDir    = "/etc/systemd/system"
	OpenRCDir     = "/etc/init.d"
	DataDir       = "/var/lib/rancher/k3s"
	ImagesDir     = "/var/lib/rancher/k3s/agent/images"
	ChartsDir     = "/var/lib/rancher/k3s/server/static/charts"
	ManifestsDir  = "/var/lib/rancher/k3s/server/manifests"
	// FerryDir holds ferry's own state: state.json, staging and backups.
	FerryDir  = "/var/lib/ferry"
	StateFile = "/var/lib/ferry/state.json"
	// LockFile is held (flock) by the one run that may change the host;
	// it holds that run's pid.
	LockFile = "/var/lib/ferry/lock"
	// BackupDir holds, per install id, the files an install replaced.
	BackupDir = "/var/lib/ferry/backup"
	// PreviousDir holds, below an id, the previous install's files that an
	// upgrade or rollback replaced (see State.Kept).
	PreviousDir = "/var/lib/ferry/previous"
	// SiteValuesFile keeps a server's site chart values (mode 0600: they
	// may hold secrets) so that an upgrade renders the new charts with them.
	SiteValuesFile = "/var/lib/ferry/site-values.json"
)

// stagingPrefix starts the name of every staging directory in FerryDir.
const stagingPrefix = "staging-"

// multicall names linked to k3s unless something already has the name.
var multicall = []string{"kubectl", "crictl", "ctr"}

// mkdirAll creates p and any missing parents, returning the directories it
// created, outermost first, so that they can be removed in reverse.
func mkdirAll(ctx context.Context, h Host, p string, mode fs.FileMode) ([]string, error) {
	p = path.Clean(p)
	var missing []string
	for d := p; d != "/"; d = path.Dir(d) {
		fi, err := h.Stat(ctx, d)
		if err == nil {
			if fi.Mode()&fs.ModeSymlink != 0 && !linksToDir(ctx, h, d, fi) {
				return nil, fmt.Errorf("create directory %s: %s is a symbolic link that leads to no directory inside the root (links are resolved inside it): remove the link, or create its target inside the root", p, d)
			}
			if !fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
				return nil, fmt.Errorf("create directory %s: %s exists and is not a directory", p, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("create directory %s: %w", p, err)
		}
		missing = append(missing, d)
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := h.Mkdir(ctx, missing[i], mode); err != nil {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// linksToDir reports whether d, a symbolic link, leads to a directory
// inside the host's root (/var/lib/rancher -> /data/rancher is common);
// only hosts that can follow links (LocalHost) say so.
func linksToDir(ctx context.Context, h Host, d string, fi fs.FileInfo) bool {
	f, ok := h.(interface {
		StatFollow(context.Context, string) (fs.FileInfo, error)
	})
	if !ok || fi.Mode()&fs.ModeSymlink == 0 {
		return false
	}
	t, err := f.StatFollow(ctx, d)
	return err == nil && t.IsDir()
}

// missingDirs returns the directories mkdirAll would create for p,
// outermost first, without creating them.
func missingDirs(ctx context.Context, h Host, p string) []string {
	var missing []string
	for d := path.Clean(p); d != "/"; d = path.Dir(d) {
		if _, err := h.Stat(ctx, d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
	}
	return missing
}

// deepestFirst returns dirs without duplicates, deepest first, so that a
// directory comes before its parent.
func deepestFirst(dirs []string) []string {
	sorted := slices.Clone(dirs)
	slices.SortFunc(sorted, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(sorted)
}

// removeEmptyDirs removes dirs deepest first, skipping any that are not
// empty or already gone.
func removeEmptyDirs(ctx context.Context, h Host, dirs []string) {
	for _, d := range deepestFirst(dirs) {
		ents, err := h.ReadDir(ctx, d)
		if err != nil || len(ents) > 0 {
			continue
		}
		_ = h.Remove(ctx, d)
	}
}

func exists(ctx context.Context, h Host, p string) bool {
	_, err := h.Stat(ctx, p)
	return err == nil
}

package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// UninstallOptions describe an uninstall. Host is required.
type UninstallOptions struct {
	// RunOptions: the host (required); the service, which stops and
	// disables k3s first when the install started it (nil leaves the
	// service alone); dry run and log. Timeout and Now are not used.
	RunOptions
}

// Uninstall stops k3s and removes exactly what state.json lists: each file
// placed (moving back the file it replaced, if any), then the directories
// ferry created when they are empty, then state.json. Anything else on
// the host stays. An interrupted uninstall can be run again.
//
// state.json is not trusted: a path outside the places ferry writes, a
// file whose content (or link target) is no longer what ferry recorded,
// and a backup recorded outside BackupDir are kept, never removed or
// moved; the rest is uninstalled and the error, a *KeptError, names each
// kept path and why.
func Uninstall(ctx context.Context, opts UninstallOptions) (*State, error) {
	h := opts.Host
	if h == nil {
		return nil, errors.New("uninstall: a host is required")
	}
	opts.RunOptions = opts.RunOptions.withDefaults()
	log, dry := opts.Log, opts.DryRunOutput
	var lock *runLock
	if !opts.DryRun {
		l, err := lockRoot(ctx, h)
		if err != nil {
			return nil, err
		}
		defer l.unlock(log)
		lock = l
		if err := recoverStale(ctx, h, log); err != nil {
			return nil, err
		}
	}
	st, err := ReadState(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("uninstall: %w", err)
	}
	if opts.Service != nil && st.Service.Started {
		if opts.DryRun {
			fmt.Fprintf(dry, "stop and disable %s\n", st.Service.Name)
		} else {
			fmt.Fprintf(log, "stopping %s\n", st.Service.Name)
			if err := opts.Service.Stop(ctx, st.Service.Name); err != nil {
				return nil, fmt.Errorf("uninstall: stop %s: %w: stop it by hand, then run uninstall again", st.Service.Name, err)
			}
			if err := opts.Service.Disable(ctx, st.Service.Name); err != nil {
				return nil, fmt.Errorf("uninstall: disable %s: %w", st.Service.Name, err)
			}
		}
	}
	var kept []KeptFile
	for i := len(st.Files) - 1; i >= 0; i-- {
		f := st.Files[i]
		k, err := removeFile(ctx, h, f, opts.DryRun, dry)
		if err != nil {
			return nil, fmt.Errorf("uninstall: %w", err)
		}
		if k != nil {
			fmt.Fprintf(log, "keeping %s: %s\n", k.Path, k.Reason)
			kept = append(kept, *k)
		}
	}
	// Only directories ferry made go; BackupDir/ID is always ferry's.
	dirs := []string{}
	if idPattern.MatchString(st.ID) {
		dirs = append(dirs, path.Join(BackupDir, st.ID))
	}
	for _, d := range st.Dirs {
		if err := checkDir(d); err != nil {
			kept = append(kept, KeptFile{Path: d, Reason: err.Error()})
			continue
		}
		dirs = append(dirs, d)
	}
	if opts.DryRun {
		if exists(ctx, h, PreviousDir) {
			fmt.Fprintf(dry, "remove %s (the previous install kept for rollback)\n", PreviousDir)
		}
		fmt.Fprintf(dry, "remove %s\n", StateFile)
		for _, d := range deepestFirst(dirs) {
			fmt.Fprintf(dry, "remove directory %s if empty\n", d)
		}
		return st, keptError(kept)
	}
	// The previous install kept for rollback is ferry's alone; RemoveAll
	// never follows a link, so a link there loses only itself.
	if exists(ctx, h, PreviousDir) {
		if err := h.RemoveAll(ctx, PreviousDir); err != nil {
			return nil, fmt.Errorf("uninstall: %w", err)
		}
	}
	if err := h.Remove(ctx, StateFile); err != nil {
		return nil, fmt.Errorf("uninstall: %w", err)
	}
	removeEmptyDirs(ctx, h, dirs)
	// FerryDir and its parents still hold the lock file: they go when it
	// does.
	lock.removeOnUnlock(dirs...)
	return st, keptError(kept)
}

// ErrKept: uninstall removed everything it could vouch for and kept some
// paths state.json lists (each named in a *KeptError).
var ErrKept = errors.New("uninstall kept files it cannot vouch for")

// KeptFile is a path uninstall left in place, and why.
type KeptFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// KeptError lists what uninstall kept; it matches ErrKept. The rest of
// the install is gone, state.json too.
type KeptError struct {
	Kept []KeptFile
}

func (e *KeptError) Error() string {
	parts := make([]string, len(e.Kept))
	for i, k := range e.Kept {
		parts[i] = k.Path + " (" + k.Reason + ")"
	}
	return fmt.Sprintf("%v: kept %s: check each and remove it by hand if it is not wanted", ErrKept, strings.Join(parts, "; "))
}

// Is makes errors.Is(err, ErrKept) hold.
func (e *KeptError) Is(target error) bool { return target == ErrKept }

func keptError(kept []KeptFile) error {
	if len(kept) == 0 {
		return nil
	}
	return &KeptError{Kept: kept}
}

// removeFile removes one placed file, or moves back the file it replaced.
// A backup already moved back (an earlier, interrupted uninstall) leaves
// the path alone. It acts only when f's paths are places ferry writes and
// the file is still what ferry placed; otherwise it changes nothing and
// says why in the returned KeptFile.
func removeFile(ctx context.Context, h Host, f FileRecord, dry bool, w io.Writer) (*KeptFile, error) {
	if err := checkPlaced(f.Path); err != nil {
		return &KeptFile{Path: f.Path, Reason: err.Error()}, nil
	}
	if err := checkBackup(f); err != nil {
		return &KeptFile{Path: f.Path, Reason: err.Error()}, nil
	}
	if ok, why := unchanged(ctx, h, f); !ok {
		k := &KeptFile{Path: f.Path, Reason: why}
		if f.Backup != "" && exists(ctx, h, f.Backup) {
			k.Reason += "; the file it replaced is still at " + f.Backup
		}
		return k, nil
	}
	if f.Backup != "" {
		if !exists(ctx, h, f.Backup) {
			return nil, nil
		}
		if dry {
			fmt.Fprintf(w, "restore %s from %s\n", f.Path, f.Backup)
			return nil, nil
		}
		return nil, h.Rename(ctx, f.Backup, f.Path)
	}
	if !exists(ctx, h, f.Path) {
		return nil, nil
	}
	if dry {
		fmt.Fprintf(w, "remove %s\n", f.Path)
		return nil, nil
	}
	return nil, h.Remove(ctx, f.Path)
}

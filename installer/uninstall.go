package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
)

// UninstallOptions describe an uninstall. Host is required.
type UninstallOptions struct {
	Host Host
	// Service stops and disables k3s first when the install started it;
	// nil leaves the service alone.
	Service Service
	// DryRun describes every change on DryRunOutput instead of making it.
	DryRun       bool
	DryRunOutput io.Writer
	// Log receives progress lines (default io.Discard).
	Log io.Writer
}

// Uninstall stops k3s and removes exactly what state.json lists: each file
// placed (moving back the file it replaced, if any), then the directories
// ferry created when they are empty, then state.json. Anything else on
// the host stays. An interrupted uninstall can be run again.
func Uninstall(ctx context.Context, opts UninstallOptions) (*State, error) {
	h := opts.Host
	if h == nil {
		return nil, errors.New("uninstall: a host is required")
	}
	log, dry := opts.Log, opts.DryRunOutput
	if log == nil {
		log = io.Discard
	}
	if dry == nil {
		dry = io.Discard
	}
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
	for i := len(st.Files) - 1; i >= 0; i-- {
		f := st.Files[i]
		if err := removeFile(ctx, h, f, opts.DryRun, dry); err != nil {
			return nil, fmt.Errorf("uninstall: %w", err)
		}
	}
	// Only directories ferry made go; BackupDir/ID is always ferry's.
	dirs := append([]string{path.Join(BackupDir, st.ID)}, st.Dirs...)
	if opts.DryRun {
		if exists(ctx, h, PreviousDir) {
			fmt.Fprintf(dry, "remove %s (the previous install kept for rollback)\n", PreviousDir)
		}
		fmt.Fprintf(dry, "remove %s\n", StateFile)
		for _, d := range deepestFirst(dirs) {
			fmt.Fprintf(dry, "remove directory %s if empty\n", d)
		}
		return st, nil
	}
	// The previous install kept for rollback is ferry's alone.
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
	return st, nil
}

// removeFile removes one placed file, or moves back the file it replaced.
// A backup already moved back (an earlier, interrupted uninstall) leaves
// the path alone.
func removeFile(ctx context.Context, h Host, f FileRecord, dry bool, w io.Writer) error {
	if f.Backup != "" {
		if !exists(ctx, h, f.Backup) {
			return nil
		}
		if dry {
			fmt.Fprintf(w, "restore %s from %s\n", f.Path, f.Backup)
			return nil
		}
		return h.Rename(ctx, f.Backup, f.Path)
	}
	if !exists(ctx, h, f.Path) {
		return nil
	}
	if dry {
		fmt.Fprintf(w, "remove %s\n", f.Path)
		return nil
	}
	return h.Remove(ctx, f.Path)
}

package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// recoverStale finds staging directories left by an interrupted install,
// upgrade or rollback. One whose run reached state.json (same id) is
// committed: it is just removed. Any other is reverted through its journal
// first, so that the host is back where it was before that run began.
// Then previous installs that state.json no longer keeps are removed.
func recoverStale(ctx context.Context, h Host, log io.Writer) error {
	ents, err := h.ReadDir(ctx, FerryDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for interrupted installs: %w", err)
	}
	var committed string
	st, err := ReadState(ctx, h)
	if err == nil {
		committed = st.ID
	} else {
		st = nil
	}
	for _, e := range ents {
		// A state.json write cut short leaves its temporary file; it was
		// never renamed, so nothing acted on it.
		if !e.IsDir() && strings.HasPrefix(e.Name(), "."+path.Base(StateFile)+".tmp-") {
			fmt.Fprintf(log, "removing %s left by an interrupted write\n", e.Name())
			if err := h.Remove(ctx, path.Join(FerryDir, e.Name())); err != nil {
				return err
			}
			continue
		}
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		id := strings.TrimPrefix(e.Name(), stagingPrefix)
		dir := path.Join(FerryDir, e.Name())
		var dirs []string
		if id != committed {
			j := &journal{}
			if ok, err := readJSON(ctx, h, path.Join(dir, "journal.json"), j); err != nil {
				return err
			} else if ok {
				if err := checkJournal(j); err != nil {
					return fmt.Errorf("interrupted run %s: its journal lists %v: it is not ferry's; check %s and remove it by hand", id, err, dir)
				}
				fmt.Fprintf(log, "reverting the interrupted install %s\n", id)
				if err := revert(ctx, h, j); err != nil {
					return fmt.Errorf("revert the interrupted install %s: %w", id, err)
				}
				dirs = append(dirs, j.Dirs...)
			}
			var made []string
			if ok, _ := readJSON(ctx, h, path.Join(dir, "dirs.json"), &made); ok {
				for _, d := range made {
					if checkDir(d) == nil {
						dirs = append(dirs, d)
					}
				}
			}
		}
		fmt.Fprintf(log, "removing stale staging directory %s\n", dir)
		if err := h.RemoveAll(ctx, dir); err != nil {
			return err
		}
		removeEmptyDirs(ctx, h, dirs)
	}
	if err := prunePrevious(ctx, h, st); err != nil {
		return err
	}
	// FerryDir is ferry's own: empty, it is a leftover of a run that died
	// before it recorded anything.
	removeEmptyDirs(ctx, h, []string{FerryDir})
	return nil
}

// readJSON decodes the file at p into v; false when there is no file or
// it is damaged (files are written atomically, so a damaged one was never
// acted on).
func readJSON(ctx context.Context, h Host, p string, v any) (bool, error) {
	f, err := h.Open(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, 16<<20)).Decode(v); err != nil {
		return false, nil
	}
	return true, nil
}

// writeJSON writes v as JSON to p atomically.
func writeJSON(ctx context.Context, h Host, p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", p, err)
	}
	return h.WriteFile(ctx, p, bytes.NewReader(b), 0o600)
}

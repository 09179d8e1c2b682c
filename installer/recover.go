package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// recoverStale finds staging directories left by an interrupted install.
// One whose install reached state.json (same id) is committed: it is just
// removed. Any other is reverted through its journal first, so that the
// host is back where it was before that install began.
func recoverStale(ctx context.Context, h Host, log io.Writer) error {
	ents, err := h.ReadDir(ctx, FerryDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for interrupted installs: %w", err)
	}
	var committed string
	if st, err := ReadState(ctx, h); err == nil {
		committed = st.ID
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), stagingPrefix) {
			continue
		}
		id := strings.TrimPrefix(e.Name(), stagingPrefix)
		dir := path.Join(FerryDir, e.Name())
		if id != committed {
			j, err := readJournal(ctx, h, path.Join(dir, "journal.json"))
			if err != nil {
				return err
			}
			if j != nil {
				fmt.Fprintf(log, "reverting the interrupted install %s\n", id)
				if err := revert(ctx, h, j); err != nil {
					return fmt.Errorf("revert the interrupted install %s: %w", id, err)
				}
			}
		}
		fmt.Fprintf(log, "removing stale staging directory %s\n", dir)
		if err := h.RemoveAll(ctx, dir); err != nil {
			return err
		}
	}
	return nil
}

func readJournal(ctx context.Context, h Host, p string) (*journal, error) {
	f, err := h.Open(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	defer f.Close()
	var j journal
	if err := json.NewDecoder(io.LimitReader(f, 16<<20)).Decode(&j); err != nil {
		// A journal is written atomically, so a damaged one was never used.
		return nil, nil
	}
	return &j, nil
}

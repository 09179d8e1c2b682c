package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
)

// journal is written into the staging directory before the first file is
// placed. It lets Undo, and a later run after a crash, put back exactly
// what was there: the backups it names are restored and the new files
// removed.
type journal struct {
	ID    string         `json:"id"`
	Items []journalEntry `json:"items"`
	// Dirs are the directories placing creates, outermost first.
	Dirs []string `json:"dirs"`
}

type journalEntry struct {
	Dest string `json:"dest"`
	// Backup is where the file found at Dest is moved before the new one
	// is renamed in; empty when Dest did not exist.
	Backup string `json:"backup,omitempty"`
	// Src, when set, is where the new file comes from and goes back to on
	// revert (an upgrade or rollback moves kept files, which must not be
	// lost); empty means the new file is removed on revert.
	Src string `json:"src,omitempty"`
	// SHA256 or Link is what the new file at Dest is: revert removes it
	// only while it still is (a journal is not trusted to name any file).
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"`
}

// placePhase moves the staged files into place. Before each rename the
// file found at the destination, if any, is moved to a backup below
// BackupDir; the journal records both so that any prefix of the work can
// be reverted.
type placePhase struct {
	p       *plan
	j       *journal
	created []string
}

func (s *placePhase) Title() string { return "place files" }

// prepare drops links whose name is taken, checks that destinations are
// unique and builds the journal from what is on the host now.
func (s *placePhase) prepare(ctx context.Context) (*journal, error) {
	p := s.p
	j := &journal{ID: p.id}
	seen := map[string]bool{}
	planned := map[string]bool{}
	var kept []item
	for _, it := range p.items {
		if seen[it.Dest] {
			return nil, fmt.Errorf("two files would be placed at %s: the bundle's files entries collide with the k3s layout", it.Dest)
		}
		seen[it.Dest] = true
		fi, err := p.host.Stat(ctx, it.Dest)
		existed := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("check %s: %w", it.Dest, err)
		}
		if existed && fi.IsDir() && !it.IfAbsent {
			return nil, fmt.Errorf("%s is a directory where ferry places a file: move it away, then run again", it.Dest)
		}
		if existed && it.IfAbsent {
			continue
		}
		kept = append(kept, it)
		je := journalEntry{Dest: it.Dest, SHA256: it.SHA256, Link: it.Link}
		if it.Link != "" {
			je.SHA256 = ""
		}
		dirs := missingDirs(ctx, p.host, path.Dir(it.Dest))
		if existed {
			je.Backup = path.Join(p.backupDir(), it.Dest)
			dirs = append(dirs, missingDirs(ctx, p.host, path.Dir(je.Backup))...)
		}
		for _, d := range dirs {
			if !planned[d] {
				planned[d] = true
				j.Dirs = append(j.Dirs, d)
			}
		}
		j.Items = append(j.Items, je)
	}
	p.items = kept
	return j, nil
}

func (s *placePhase) Run(ctx context.Context) error {
	p := s.p
	j, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	if err := writeJSON(ctx, p.host, p.journalPath(), j); err != nil {
		return err
	}
	s.j, p.journal = j, j
	for i, it := range p.items {
		je := j.Items[i]
		created, err := mkdirAll(ctx, p.host, path.Dir(it.Dest), 0o755)
		s.created = append(s.created, created...)
		if err != nil {
			return err
		}
		if je.Backup != "" {
			created, err := mkdirAll(ctx, p.host, path.Dir(je.Backup), 0o700)
			s.created = append(s.created, created...)
			if err != nil {
				return err
			}
			if err := p.host.Rename(ctx, it.Dest, je.Backup); err != nil {
				return fmt.Errorf("back up %s: %w", it.Dest, err)
			}
		}
		if it.Link != "" {
			err = p.host.Symlink(ctx, it.Link, it.Dest)
		} else {
			err = p.host.Rename(ctx, it.Src, it.Dest)
		}
		if err != nil {
			return fmt.Errorf("place %s: %w", it.Dest, err)
		}
	}
	return nil
}

func (s *placePhase) DryRun(ctx context.Context, w io.Writer) error {
	j, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	s.p.journal = j
	for _, d := range j.Dirs {
		fmt.Fprintf(w, "mkdir %s\n", d)
	}
	for i, it := range s.p.items {
		if b := j.Items[i].Backup; b != "" {
			fmt.Fprintf(w, "move %s to %s (backup)\n", it.Dest, b)
		}
		if it.Link != "" {
			fmt.Fprintf(w, "link %s -> %s\n", it.Dest, it.Link)
			continue
		}
		fmt.Fprintf(w, "place %s %04o %d bytes sha256 %s\n", it.Dest, it.Mode, it.Size, it.SHA256)
	}
	return nil
}

// Undo removes every placed file and restores the backups.
func (s *placePhase) Undo(ctx context.Context) error {
	if s.j == nil {
		return nil
	}
	err := revert(ctx, s.p.host, s.j)
	removeEmptyDirs(ctx, s.p.host, append(s.created, s.j.Dirs...))
	return err
}

// revert undoes any prefix of the work a journal describes, in reverse:
// a new file with a Src that is gone from there is moved back to it, else
// a new file is removed; then a backup that exists is moved back over its
// destination. Each step checks what is on the host, so a revert that was
// itself interrupted can be run again. The caller removes j.Dirs.
func revert(ctx context.Context, h Host, j *journal) error {
	var errs []error
	for i := len(j.Items) - 1; i >= 0; i-- {
		je := j.Items[i]
		switch {
		case je.Src != "":
			if !exists(ctx, h, je.Src) && exists(ctx, h, je.Dest) {
				if err := h.Rename(ctx, je.Dest, je.Src); err != nil {
					errs = append(errs, fmt.Errorf("move back %s: %w", je.Dest, err))
					continue
				}
			}
		case je.Backup == "":
			if exists(ctx, h, je.Dest) {
				if je.SHA256 != "" || je.Link != "" {
					if ok, _ := unchanged(ctx, h, FileRecord{Path: je.Dest, SHA256: je.SHA256, Link: je.Link}); !ok {
						continue // not the file this run placed: keep it
					}
				}
				if err := h.Remove(ctx, je.Dest); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if je.Backup == "" || !exists(ctx, h, je.Backup) {
			continue // not yet moved: the original is still in place
		}
		if fi, err := h.Stat(ctx, je.Dest); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			// Rename replaces files, but be explicit for links.
			_ = h.Remove(ctx, je.Dest)
		}
		if err := h.Rename(ctx, je.Backup, je.Dest); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", je.Dest, err))
		}
	}
	return errors.Join(errs...)
}

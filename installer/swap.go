package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// swap turns the files of one install (current) into those of another
// (target) and keeps what it replaces below PreviousDir/id, so that the
// swap can be made again the other way. Upgrade and Rollback share it.
//
// A file whose record is the same in both (same content, mode or link
// target) is left in place; any other current file is moved to the keep
// directory; each target file is moved in from where source says it is
// (staging for an upgrade, the keep directory of the previous install for
// a rollback), or linked. A file of the current install that replaced a
// file ferry does not own (FileRecord.Backup) passes that backup on, or,
// when the target no longer places the file, moves it back.
//
// Every step is in a journal written to the operation's staging directory
// first, so that Undo, and a later run after a crash, can revert any
// prefix of the work (see revert).
type swap struct {
	host    Host
	id      string
	current *State
	// target lists the files to have afterwards; prepare fills in their
	// Backup fields.
	target []FileRecord
	// source returns where a target file's content is now.
	source func(FileRecord) string
	// dryRun skips checking that sources exist (nothing is staged).
	dryRun bool
	// verifySources checks, before anything moves, that each file to move
	// in has the content its record names (a rollback's kept files, which
	// lay on disk since the upgrade; staged files were verified as they
	// were written).
	verifySources bool

	ops     []swapOp
	j       *journal
	created []string // directories made, outermost first
	madeDir bool     // the staging directory was made here
	ran     bool
}

// swapOp is one journal entry with, for a link, its target.
type swapOp struct {
	je   journalEntry
	link string
}

func (s *swap) staging() string     { return path.Join(FerryDir, stagingPrefix+s.id) }
func (s *swap) keepDir() string     { return path.Join(PreviousDir, s.id) }
func (s *swap) journalPath() string { return path.Join(s.staging(), "journal.json") }

// sameFile reports whether two records describe the same placed file.
func sameFile(a, b FileRecord) bool {
	return a.Link == b.Link && a.SHA256 == b.SHA256 && a.Mode == b.Mode
}

// prepare plans the moves from what is on the host now. It changes nothing.
func (s *swap) prepare(ctx context.Context) error {
	cur := map[string]FileRecord{}
	for _, f := range s.current.Files {
		cur[f.Path] = f
	}
	inTarget := map[string]bool{}
	j := &journal{ID: s.id}
	planned := map[string]bool{}
	addDirs := func(p string) {
		for _, d := range missingDirs(ctx, s.host, path.Dir(p)) {
			if !planned[d] {
				planned[d] = true
				j.Dirs = append(j.Dirs, d)
			}
		}
	}
	s.ops = nil
	for i := range s.target {
		t := &s.target[i]
		if inTarget[t.Path] {
			return fmt.Errorf("two files would be placed at %s: the bundle's files entries collide with the k3s layout", t.Path)
		}
		inTarget[t.Path] = true
		c, owned := cur[t.Path]
		if owned {
			t.Backup = c.Backup
			if sameFile(c, *t) && exists(ctx, s.host, t.Path) {
				continue
			}
		}
		op := swapOp{je: journalEntry{Dest: t.Path, Link: t.Link}, link: t.Link}
		if t.Link == "" {
			op.je.Src = s.source(*t)
			if !s.dryRun && !exists(ctx, s.host, op.je.Src) {
				return fmt.Errorf("%s is missing: the files to swap in are incomplete", op.je.Src)
			}
			if s.verifySources && exists(ctx, s.host, op.je.Src) {
				sum, err := fileSHA256(ctx, s.host, op.je.Src)
				if err != nil {
					return fmt.Errorf("check the kept copy of %s: %w", t.Path, err)
				}
				if sum != t.SHA256 {
					return fmt.Errorf("the kept copy of %s (%s) is not the file that was kept (sha256 %s, recorded %s): nothing was changed; the previous install cannot be restored", t.Path, op.je.Src, sum, t.SHA256)
				}
			}
		}
		fi, err := s.host.Stat(ctx, t.Path)
		switch {
		case err == nil && fi.IsDir():
			return fmt.Errorf("%s is a directory where ferry places a file: move it away, then run again", t.Path)
		case err == nil && owned:
			op.je.Backup = path.Join(s.keepDir(), t.Path)
		case err == nil:
			op.je.Backup = path.Join(BackupDir, s.id, t.Path)
			t.Backup = op.je.Backup
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("check %s: %w", t.Path, err)
		}
		addDirs(t.Path)
		if op.je.Backup != "" {
			addDirs(op.je.Backup)
		}
		s.ops = append(s.ops, op)
	}
	for _, c := range s.current.Files {
		if inTarget[c.Path] {
			continue
		}
		if exists(ctx, s.host, c.Path) {
			keep := path.Join(s.keepDir(), c.Path)
			addDirs(keep)
			s.ops = append(s.ops, swapOp{je: journalEntry{Dest: c.Path, Backup: keep}})
		}
		if c.Backup != "" && exists(ctx, s.host, c.Backup) {
			s.ops = append(s.ops, swapOp{je: journalEntry{Dest: c.Path, Src: c.Backup}})
		}
	}
	for _, op := range s.ops {
		j.Items = append(j.Items, op.je)
	}
	s.j = j
	return nil
}

func (s *swap) Title() string { return "swap the files (keeping the previous ones)" }

// Run writes the journal, then makes each move.
func (s *swap) Run(ctx context.Context) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if !exists(ctx, s.host, s.staging()) {
		if err := s.host.Mkdir(ctx, s.staging(), 0o700); err != nil {
			return err
		}
		s.madeDir = true
	}
	if err := writeJSON(ctx, s.host, s.journalPath(), s.j); err != nil {
		return err
	}
	s.ran = true
	for _, op := range s.ops {
		if err := s.move(ctx, op); err != nil {
			return err
		}
	}
	return nil
}

func (s *swap) move(ctx context.Context, op swapOp) error {
	je := op.je
	created, err := mkdirAll(ctx, s.host, path.Dir(je.Dest), 0o755)
	s.created = append(s.created, created...)
	if err != nil {
		return err
	}
	if je.Backup != "" && exists(ctx, s.host, je.Dest) {
		created, err := mkdirAll(ctx, s.host, path.Dir(je.Backup), 0o700)
		s.created = append(s.created, created...)
		if err != nil {
			return err
		}
		if err := s.host.Rename(ctx, je.Dest, je.Backup); err != nil {
			return fmt.Errorf("keep %s: %w", je.Dest, err)
		}
	}
	switch {
	case je.Src != "":
		if err := s.host.Rename(ctx, je.Src, je.Dest); err != nil {
			return fmt.Errorf("place %s: %w", je.Dest, err)
		}
	case op.link != "":
		if err := s.host.Symlink(ctx, op.link, je.Dest); err != nil {
			return fmt.Errorf("place %s: %w", je.Dest, err)
		}
	}
	return nil
}

// DryRun describes every move.
func (s *swap) DryRun(ctx context.Context, w io.Writer) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	for _, d := range s.j.Dirs {
		fmt.Fprintf(w, "mkdir %s\n", d)
	}
	for _, op := range s.ops {
		je := op.je
		if je.Backup != "" {
			fmt.Fprintf(w, "move %s to %s\n", je.Dest, je.Backup)
		}
		switch {
		case je.Src != "":
			fmt.Fprintf(w, "move %s to %s\n", je.Src, je.Dest)
		case op.link != "":
			fmt.Fprintf(w, "link %s -> %s\n", je.Dest, op.link)
		}
	}
	return nil
}

// Undo reverts the moves made so far.
func (s *swap) Undo(ctx context.Context) error {
	if !s.ran {
		return nil
	}
	err := revert(ctx, s.host, s.j)
	removeEmptyDirs(ctx, s.host, append(slices.Clone(s.created), s.j.Dirs...))
	if s.madeDir && err == nil {
		err = s.host.RemoveAll(ctx, s.staging())
	}
	return err
}

// dirs returns the directories the install owns after the swap: the
// current install's and those the swap made, without those below
// PreviousDir (which uninstall removes whole).
func (s *swap) dirs() []string {
	var out []string
	seen := map[string]bool{}
	add := func(ds []string) {
		for _, d := range ds {
			if seen[d] || d == PreviousDir || strings.HasPrefix(d, PreviousDir+"/") {
				continue
			}
			seen[d] = true
			out = append(out, d)
		}
	}
	add(s.current.Dirs)
	if s.j != nil {
		add(s.j.Dirs)
	}
	add(s.created)
	return out
}

// commitState is the state after the swap: target's files, with the
// current install (without its own Previous) kept for rollback.
func (s *swap) commitState(next State) *State {
	prev := *s.current
	prev.Previous = nil
	prev.Kept = s.keepDir()
	next.ID = s.id
	next.Files = s.target
	next.Dirs = s.dirs()
	next.Previous = &prev
	next.Kept = ""
	return &next
}

// prunePrevious removes every directory below PreviousDir but the one st
// keeps, and PreviousDir itself when nothing is kept: leftovers of an
// upgrade or rollback that was interrupted after it committed.
func prunePrevious(ctx context.Context, h Host, st *State) error {
	ents, err := h.ReadDir(ctx, PreviousDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for stale previous installs: %w", err)
	}
	keep := ""
	if st != nil && st.Previous != nil {
		keep = st.Previous.Kept
		if checkKept(keep) != nil {
			// state.json names a previous install outside PreviousDir:
			// it cannot say which kept directory is stale, so none goes.
			return nil
		}
	}
	for _, e := range ents {
		p := path.Join(PreviousDir, e.Name())
		if p == keep {
			continue
		}
		if err := h.RemoveAll(ctx, p); err != nil {
			return err
		}
	}
	if keep == "" {
		return h.RemoveAll(ctx, PreviousDir)
	}
	return nil
}

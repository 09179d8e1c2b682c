package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/internal/hostrules"
)

// maxTemplateSize caps one template override kept in memory: the limit
// ferry build checks too (internal/hostrules).
const maxTemplateSize = hostrules.MaxTemplateSize

// stagePhase streams the bundle into a fresh staging directory below
// FerryDir (on the target filesystem, so that placing is a rename). Each
// entry is verified while it is written; an entry that fails its digest
// fails the phase, whose undo removes the staging directory: nothing
// outside it has been touched.
type stagePhase struct {
	p       *plan
	created []string // directories created, outermost first
}

func (s *stagePhase) Title() string { return "stage and verify the bundle" }

// needed returns the entries this host places and their total size.
func (s *stagePhase) needed() (n int64) {
	for _, e := range s.p.manifest.Entries {
		if dest, _ := s.p.entryDest(e); dest != "" {
			n += e.Size
		}
	}
	return n
}

func (s *stagePhase) Run(ctx context.Context) error {
	p := s.p
	created, err := mkdirAll(ctx, p.host, FerryDir, 0o700)
	s.created = append(s.created, created...)
	p.ferryDirs = append(p.ferryDirs, created...)
	if err != nil {
		return err
	}
	// Placing renames, so staging needs room for what is placed once, plus
	// a margin for the generated files.
	need := s.needed() + 1<<20
	free, err := p.host.FreeSpace(ctx, FerryDir)
	if err != nil {
		return err
	}
	if free < need {
		return fmt.Errorf("not enough free space on the filesystem of %s: %d bytes free, %d needed: free some space, then run again", FerryDir, free, need)
	}
	if err := p.host.Mkdir(ctx, p.staging(), 0o700); err != nil {
		return err
	}
	s.created = append(s.created, p.staging())
	// Record the directories made so far, for a run after a crash.
	if err := writeJSON(ctx, p.host, path.Join(p.staging(), "dirs.json"), created); err != nil {
		return err
	}
	return s.stream(ctx, func(e bundle.Entry, r io.Reader) error {
		dest, mode := p.entryDest(e)
		if dest == "" {
			return nil
		}
		src := path.Join(p.staging(), "payload", e.Path)
		if _, err := mkdirAll(ctx, p.host, path.Dir(src), 0o700); err != nil {
			return err
		}
		if err := p.host.WriteFile(ctx, src, r, mode); err != nil {
			return fmt.Errorf("stage %s: %w", e.Path, err)
		}
		p.items = append(p.items, item{Src: src, Dest: dest, Mode: mode, Size: e.Size, SHA256: e.SHA256})
		return nil
	})
}

// stream reads every entry of the bundle, keeps template overrides in
// memory and hands the others to put; entries put does not read are still
// read to their end and verified.
func (s *stagePhase) stream(ctx context.Context, put func(bundle.Entry, io.Reader) error) error {
	p := s.p
	p.templates = map[string][]byte{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, r, err := p.reader.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read bundle: %w", err)
		}
		if e.Role == bundle.RoleTemplate {
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, io.LimitReader(r, maxTemplateSize+1)); err != nil {
				return fmt.Errorf("read %s: %w", e.Path, err)
			}
			if buf.Len() > maxTemplateSize {
				return fmt.Errorf("template %s is larger than %d bytes: refused", e.Path, maxTemplateSize)
			}
			if _, err := io.Copy(io.Discard, r); err != nil { // reach EOF: the digest check
				return fmt.Errorf("read %s: %w", e.Path, err)
			}
			p.templates[strings.TrimPrefix(e.Path, "templates/")] = buf.Bytes()
			continue
		}
		if err := put(e, r); err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return fmt.Errorf("read %s: %w", e.Path, err)
		}
	}
}

// DryRun verifies the whole bundle (writing nothing) and lists the files
// staging would hold.
func (s *stagePhase) DryRun(ctx context.Context, w io.Writer) error {
	p := s.p
	for _, d := range missingDirs(ctx, p.host, FerryDir) {
		fmt.Fprintf(w, "mkdir %s 0700\n", d)
	}
	fmt.Fprintf(w, "mkdir %s 0700\n", p.staging())
	return s.stream(ctx, func(e bundle.Entry, r io.Reader) error {
		dest, mode := p.entryDest(e)
		if dest == "" {
			return nil
		}
		src := path.Join(p.staging(), "payload", e.Path)
		fmt.Fprintf(w, "write %s %04o %d bytes (verified sha256 %s)\n", src, mode, e.Size, e.SHA256)
		p.items = append(p.items, item{Src: src, Dest: dest, Mode: mode, Size: e.Size, SHA256: e.SHA256})
		return nil
	})
}

// Undo removes the staging directory and the directories the phase made.
func (s *stagePhase) Undo(ctx context.Context) error {
	var errs []error
	if exists(ctx, s.p.host, s.p.staging()) {
		errs = append(errs, s.p.host.RemoveAll(ctx, s.p.staging()))
	}
	removeEmptyDirs(ctx, s.p.host, s.created)
	return errors.Join(errs...)
}

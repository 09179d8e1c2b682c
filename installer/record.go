package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// recordPhase writes state.json, the commit point of an install.
type recordPhase struct {
	p       *plan
	written bool
}

func (s *recordPhase) Title() string { return "record the install in " + StateFile }

func (s *recordPhase) build(ctx context.Context) *State {
	p := s.p
	st := p.state
	st.Files = st.Files[:0]
	for i, it := range p.items {
		fr := FileRecord{Path: it.Dest, SHA256: it.SHA256, Mode: it.Mode, Size: it.Size, Link: it.Link}
		if p.journal != nil && i < len(p.journal.Items) {
			fr.Backup = p.journal.Items[i].Backup
		}
		if it.Link != "" {
			fr.SHA256, fr.Mode, fr.Size = "", 0, 0
		}
		st.Files = append(st.Files, fr)
	}
	st.Dirs = append([]string(nil), p.ferryDirs...)
	if p.journal != nil {
		st.Dirs = append(st.Dirs, p.journal.Dirs...)
	}
	return st
}

func (s *recordPhase) Run(ctx context.Context) error {
	st := s.build(ctx)
	st.InstalledAt = s.p.opts.now().UTC()
	if err := writeState(ctx, s.p.host, st); err != nil {
		return err
	}
	s.written = true
	return nil
}

func (s *recordPhase) DryRun(ctx context.Context, w io.Writer) error {
	st := s.build(ctx)
	b, _ := json.Marshal(st)
	_, err := fmt.Fprintf(w, "write %s 0644 about %d bytes (%d files)\n", StateFile, len(b), len(st.Files))
	return err
}

func (s *recordPhase) Undo(ctx context.Context) error {
	if !s.written {
		return nil
	}
	return s.p.host.Remove(ctx, StateFile)
}

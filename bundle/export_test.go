package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Extract is test support: the hostile corpus checks that a refused bundle
// leaves no file behind when it is unpacked the way the installer stages.
// Extract streams a bundle from r into dir, which Extract creates and which
// must not exist yet. Every entry is checked against the verified manifest
// while it is written; files get their manifest modes and are synced. On
// any failure dir is removed whole, so a tampered bundle leaves nothing
// behind. dir should be on the filesystem where the files will finally
// live, so that placing them is a rename.
func Extract(ctx context.Context, r io.Reader, dir string, opts ...ReadOption) (m *Manifest, err error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("extract bundle: staging directory %s already exists: remove it first", dir)
		}
		return nil, fmt.Errorf("extract bundle: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	br, err := NewReader(ctx, r, opts...)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, content, err := br.Next()
		if err == io.EOF {
			return br.Manifest(), nil
		}
		if err != nil {
			return nil, err
		}
		if err := writeEntry(dir, e, content, buf); err != nil {
			return nil, err
		}
	}
}

func writeEntry(dir string, e Entry, content io.Reader, buf []byte) error {
	// Names were checked by CheckName (relative, clean, no ".."), and dir
	// was created empty by us, so the joined path cannot leave dir.
	dst := filepath.Join(dir, filepath.FromSlash(e.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", e.Path, err)
	}
	mode := os.FileMode(e.Mode)
	if mode == 0 {
		mode = 0o644
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("extract %s: %w", e.Path, err)
	}
	if _, err := io.CopyBuffer(f, content, buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("extract %s: %w", e.Path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("extract %s: %w", e.Path, err)
	}
	return nil
}

package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle"
)

// templates lists the override templates in dir (empty: none). Links,
// other non-regular files and subdirectories are refused: a bundle carries
// no links, and hosts read only the top of the directory.
func templates(dir string) ([]PlannedTemplate, error) {
	if dir == "" {
		return nil, nil
	}
	var out []PlannedTemplate
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir { // spec.Load refuses these already (hostrules)
				return fmt.Errorf("templates: %s is a directory: hosts read only the files at the top of the templates directory; move its files up", p)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("templates: %s is not a regular file (links are not carried): copy the file in", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := "templates/" + filepath.ToSlash(rel)
		if err := bundle.CheckName(name); err != nil {
			return fmt.Errorf("templates: %w: rename the file", err)
		}
		sum, size, err := hashFile(p)
		if err != nil {
			return err
		}
		out = append(out, PlannedTemplate{Name: name, Path: p, SHA256: sum, Size: size})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read templates %s: %w", dir, err)
	}
	return out, nil
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/ferry-k3s/ferry/internal/hostrules"
)

// maxStateSize bounds state.json (4 MiB): a real one lists a few dozen
// files and is a few KiB.
const maxStateSize = 4 << 20

// layoutDirs are the directories of the k3s layout where ferry places the
// files it generates and the bundle's k3s binary, images and charts.
var layoutDirs = []string{BinDir, ConfigDir, SystemdDir, OpenRCDir, DataDir}

// FileDirs are the directories below which a bundle's files: entries may
// be placed (hostPath); anything else, and anything inside FerryDir, is
// refused at install. Uninstall and rollback act only on paths in
// layoutDirs, FileDirs and ferry's own files in FerryDir. The list, like
// the whole hostPath rule, is internal/hostrules', which ferry build
// applies to the spec too.
var FileDirs = hostrules.FileDirs

// idPattern is the spelling of an install id (newID: 12 hex digits; up to
// 64 accepted).
var idPattern = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// below reports whether p is dir or inside it.
func below(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// cleanAbs checks that p is a clean absolute path other than "/", on one
// line.
func cleanAbs(p string) error {
	switch {
	case p == "" || p[0] != '/' || path.Clean(p) != p:
		return fmt.Errorf("%q is not a clean absolute path", p)
	case p == "/":
		return errors.New(`"/" is not a file`)
	case strings.ContainsAny(p, "\x00\n\r"):
		return fmt.Errorf("%q holds a NUL byte or a line break", p)
	}
	return nil
}

// checkFileDest checks a bundle's files: hostPath before anything is
// placed: inside FileDirs or the k3s layout, never inside FerryDir.
func checkFileDest(entry, p string) error {
	if err := cleanAbs(p); err != nil {
		return fmt.Errorf("bundle entry %s: hostPath %w: rebuild the bundle with a clean absolute hostPath", entry, err)
	}
	if err := hostrules.CheckFilePath(p); err != nil {
		return fmt.Errorf("bundle entry %s: hostPath %w: rebuild the bundle with the hostPath changed", entry, err)
	}
	if below(p, FerryDir) {
		return fmt.Errorf("bundle entry %s: hostPath %s is inside %s, which holds ferry's own state: rebuild the bundle with a hostPath elsewhere (e.g. /opt/...)", entry, p, FerryDir)
	}
	for _, d := range append(FileDirs, layoutDirs...) {
		if below(p, d) && p != d {
			return nil
		}
	}
	return fmt.Errorf("bundle entry %s: hostPath %s is outside the places ferry-install writes (%s): rebuild the bundle with a hostPath below one of them", entry, p, strings.Join(FileDirs, ", "))
}

// checkPlaced checks a path state.json says ferry placed: clean,
// absolute, inside the k3s layout or FileDirs, and inside FerryDir only
// for ferry's own files there.
func checkPlaced(p string) error {
	if err := cleanAbs(p); err != nil {
		return err
	}
	if below(p, FerryDir) {
		if p == SiteValuesFile {
			return nil
		}
		return fmt.Errorf("%s is inside %s, where ferry places no file", p, FerryDir)
	}
	for _, d := range append(FileDirs, layoutDirs...) {
		if below(p, d) && p != d {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the places ferry writes", p)
}

// checkBackup checks where state.json says the file f replaced was kept:
// only BackupDir/ID/PATH, with PATH f's own path.
func checkBackup(f FileRecord) error {
	if f.Backup == "" {
		return nil
	}
	rest, ok := strings.CutPrefix(f.Backup, BackupDir+"/")
	id, kept, _ := strings.Cut(rest, "/")
	if !ok || !idPattern.MatchString(id) || "/"+kept != f.Path || path.Clean(f.Backup) != f.Backup {
		return fmt.Errorf("its backup is recorded at %q, not in ferry's backup area %s/ID%s", f.Backup, BackupDir, f.Path)
	}
	return nil
}

// checkKept checks the directory of a previous install: PreviousDir/ID.
func checkKept(kept string) error {
	id, ok := strings.CutPrefix(kept, PreviousDir+"/")
	if !ok || !idPattern.MatchString(id) {
		return fmt.Errorf("the previous install is recorded at %q, not in ferry's area %s/ID", kept, PreviousDir)
	}
	return nil
}

// checkDir checks a directory state.json says ferry made: clean,
// absolute, and inside (or a parent of) a place ferry writes.
func checkDir(d string) error {
	if err := cleanAbs(d); err != nil {
		return err
	}
	for _, p := range append(append([]string{FerryDir}, FileDirs...), layoutDirs...) {
		if below(d, p) || below(p, d) {
			return nil
		}
	}
	return fmt.Errorf("directory %s is outside the places ferry writes", d)
}

// checkRecords checks every path of st (and of its Previous) before an
// upgrade or rollback acts on them. Each problem is named; the fix is to
// restore state.json or uninstall, which keeps what it cannot vouch for.
func checkRecords(st *State) error {
	var errs []error
	for _, s := range []*State{st, st.Previous} {
		if s == nil {
			continue
		}
		if s != st {
			if err := checkKept(s.Kept); err != nil {
				errs = append(errs, err)
			}
		}
		for _, f := range s.Files {
			if err := checkPlaced(f.Path); err != nil {
				errs = append(errs, err)
			} else if err := checkBackup(f); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			}
		}
		for _, d := range s.Dirs {
			if err := checkDir(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s lists what ferry did not place (%s): restore it from a backup, or run 'ferry-install uninstall', which keeps and reports such paths", StateFile, strings.Join(msgs, "; "))
}

// rewrittenByK3s are placed files k3s itself rewrites, whose content is
// not expected to stay as placed.
var rewrittenByK3s = map[string]bool{path.Join(ImagesDir, ".cache.json"): true}

// unchanged reports whether the file or link at f.Path is still what ferry
// placed (same sha256, or same link target); reason says what differs.
// A missing path is unchanged (nothing to remove).
func unchanged(ctx context.Context, h Host, f FileRecord) (ok bool, reason string) {
	fi, err := h.Stat(ctx, f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, ""
	}
	if err != nil {
		return false, err.Error()
	}
	if f.Link != "" {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return false, "it is no longer a link"
		}
		if r, ok := h.(interface{ Readlink(string) (string, error) }); ok {
			if t, err := r.Readlink(f.Path); err != nil || t != f.Link {
				return false, fmt.Sprintf("it links to %q, not %q", t, f.Link)
			}
		}
		return true, ""
	}
	if !fi.Mode().IsRegular() {
		return false, "it is no longer a regular file"
	}
	if rewrittenByK3s[f.Path] {
		return true, ""
	}
	sum, err := fileSHA256(ctx, h, f.Path)
	if err != nil {
		return false, err.Error()
	}
	if sum != f.SHA256 {
		return false, "its content changed since ferry placed it"
	}
	return true, ""
}

// fileSHA256 hashes the regular file at p.
func fileSHA256(ctx context.Context, h Host, p string) (string, error) {
	r, err := h.Open(ctx, p)
	if err != nil {
		return "", err
	}
	defer r.Close()
	d := sha256.New()
	if _, err := io.Copy(d, r); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(d.Sum(nil)), nil
}

// checkJournal checks a journal (or dirs.json) read from a staging
// directory before a run after a crash reverts it: every destination is a
// place ferry writes, every backup and source lies in ferry's own areas.
func checkJournal(j *journal) error {
	for _, je := range j.Items {
		if err := checkPlaced(je.Dest); err != nil {
			return err
		}
		for _, p := range []string{je.Backup, je.Src} {
			if p == "" {
				continue
			}
			if err := cleanAbs(p); err != nil {
				return err
			}
			if !below(p, BackupDir) && !below(p, PreviousDir) && !strings.HasPrefix(p, path.Join(FerryDir, stagingPrefix)) {
				return fmt.Errorf("%s is outside ferry's own areas in %s", p, FerryDir)
			}
		}
	}
	for _, d := range j.Dirs {
		if err := checkDir(d); err != nil {
			return err
		}
	}
	return nil
}

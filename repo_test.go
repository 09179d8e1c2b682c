package ferry_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoCommittedExecutables fails when a file git tracks is an ELF
// binary or has an executable bit without being a script: build output
// does not belong in the repository (a 77 MB binary once made up most of
// its pack).
func TestNoCommittedExecutables(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: cannot list tracked files")
	}
	out, err := exec.Command("git", "ls-files", "-s").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing to check", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 50 {
		t.Fatalf("git ls-files listed only %d files", len(lines))
	}
	for _, l := range lines {
		// "MODE OBJECT STAGE\tPATH"
		meta, path, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("git ls-files -s line %q", l)
		}
		head := make([]byte, 4)
		if f, err := os.Open(path); err == nil {
			n, _ := f.Read(head)
			head = head[:n]
			f.Close()
		}
		switch {
		case bytes.Equal(head, []byte("\x7fELF")):
			t.Errorf("%s is an ELF binary: remove it (git rm --cached) and build it with make build", path)
		case strings.HasPrefix(meta, "100755") && !bytes.HasPrefix(head, []byte("#!")):
			t.Errorf("%s is committed executable but is not a script: build output does not belong in the repository", path)
		}
	}
}

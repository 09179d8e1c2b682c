package installer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// recordingHost is a LocalHost that logs every mutating call once it has
// returned, in order.
type recordingHost struct {
	*LocalHost
	ops []string
}

func (h *recordingHost) log(err error, format string, args ...any) error {
	if err == nil {
		h.ops = append(h.ops, fmt.Sprintf(format, args...))
	}
	return err
}

func (h *recordingHost) WriteFile(ctx context.Context, p string, r io.Reader, m fs.FileMode) error {
	return h.log(h.LocalHost.WriteFile(ctx, p, r, m), "write %s", p)
}

func (h *recordingHost) Rename(ctx context.Context, from, to string) error {
	return h.log(h.LocalHost.Rename(ctx, from, to), "rename %s %s", from, to)
}

func (h *recordingHost) Symlink(ctx context.Context, target, p string) error {
	return h.log(h.LocalHost.Symlink(ctx, target, p), "link %s", p)
}

// TestPlaceOrder checks, through the Host interface, the order an install
// makes files live: every file is written (atomically and synced, by the
// Host contract) into staging before the rename that places it, and
// every placed file and link is in place before state.json is written,
// which is the last write of the install and lists exactly those.
func TestPlaceOrder(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	lh, _ := NewLocalHost(root)
	h := &recordingHost{LocalHost: lh}
	res, err := installInto(t, root, bp, withHost(h))
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{} // op -> index
	for i, op := range h.ops {
		at[op] = i
	}
	commit, ok := at["write "+StateFile]
	if !ok {
		t.Fatalf("state.json was never written: %v", h.ops)
	}
	for _, op := range h.ops[commit+1:] {
		if strings.HasPrefix(op, "write ") || strings.HasPrefix(op, "link ") || strings.HasPrefix(op, "rename ") {
			t.Errorf("%q happens after state.json recorded the install", op)
		}
	}
	for _, f := range res.State.Files {
		if f.Link != "" {
			if i, ok := at["link "+f.Path]; !ok || i > commit {
				t.Errorf("link %s is recorded but not made before the commit", f.Path)
			}
			continue
		}
		placed := -1
		for i, op := range h.ops[:commit] {
			if from, to, ok := strings.Cut(strings.TrimPrefix(op, "rename "), " "); ok && strings.HasPrefix(op, "rename ") && to == f.Path {
				placed = i
				w, ok := at["write "+from]
				if !ok || w > i {
					t.Errorf("%s is placed from %s, which was not written (and synced) before", f.Path, from)
				}
			}
		}
		if placed < 0 {
			t.Errorf("%s is recorded in state.json but was not renamed into place before the commit", f.Path)
		}
	}
}

// sysCall is one system call from strace's log.
type sysCall struct {
	name string
	args []string // paths: the fd's path for fsync, the names otherwise
}

var (
	straceLine = regexp.MustCompile(`^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)`)
	fdPath     = regexp.MustCompile(`^\d+<(.*)>$`)
	// quoted is a path argument, with the directory descriptor before it
	// for the *at calls (renameat, mkdirat: "5</dir>, \"name\"").
	quoted = regexp.MustCompile(`(?:\d+<([^>]*)>,\s*)?"((?:[^"\\]|\\.)*)"`)
)

// readStrace parses a log of strace -f -y -s 4096: successful calls in the
// order they returned, unfinished calls joined with their resumption.
func readStrace(t *testing.T, file string) []sysCall {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pending := map[string]string{}
	var calls []sysCall
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		pid, rest, _ := strings.Cut(line, " ")
		if head, ok := strings.CutSuffix(line, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if i := strings.Index(rest, " resumed>"); strings.HasPrefix(strings.TrimSpace(rest), "<...") && i >= 0 {
			line = pending[pid] + rest[i+len(" resumed>"):]
			delete(pending, pid)
		}
		m := straceLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(m[3], "-") {
			continue
		}
		c := sysCall{name: m[1]}
		if p := fdPath.FindStringSubmatch(m[2]); p != nil {
			c.args = []string{p[1]}
		} else {
			for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
				if q[1] != "" && !strings.HasPrefix(q[2], "/") {
					q[2] = filepath.Join(q[1], q[2])
				}
				c.args = append(c.args, q[2])
			}
		}
		calls = append(calls, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return calls
}

// TestFsyncDiscipline runs the real ferry-install under strace and checks
// the system calls themselves: a file's content is fsynced before the
// rename that makes it live; the directory it is renamed into, and the
// parent of every directory the install creates, are fsynced after that
// and before the rename that commits state.json; state.json itself is
// fsynced before that rename and its directory after it.
func TestFsyncDiscipline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-install and runs it under strace; skipped under -short")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (Debian package strace)")
	}
	bin := buildInstaller(t)
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	seedForeign(t, root)
	log := filepath.Join(t.TempDir(), "strace.log")
	args := append([]string{"-f", "-qq", "-y", "-s", "4096", "-o", log,
		"-e", "trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat", bin}, serverArgs(t, root, bp)...)
	if out, err := exec.Command("strace", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot trace ferry-install here (ptrace refused?): %v\n%s", err, out)
	}
	calls := readStrace(t, log)
	live := func(p string) bool {
		rel, err := filepath.Rel(root, p)
		return err == nil && !strings.HasPrefix(rel, "..") && !strings.HasPrefix(rel, "var/lib/ferry/staging-") && !strings.Contains(filepath.Base(p), ".tmp-")
	}
	state := filepath.Join(root, StateFile)
	commit := -1
	for i, c := range calls {
		if strings.HasPrefix(c.name, "rename") && len(c.args) == 2 && c.args[1] == state {
			commit = i
		}
	}
	if commit < 0 {
		t.Fatalf("no rename commits %s in %d traced calls", state, len(calls))
	}
	synced := map[string]bool{}       // content synced, following renames
	syncedAfter := map[string][]int{} // directory -> indexes of its fsyncs
	type event struct {
		i    int
		what string
		dir  string
	}
	var needDirSync []event
	var liveRenames, syncedFiles int
	for i, c := range calls {
		switch {
		case c.name == "fsync" || c.name == "fdatasync":
			synced[c.args[0]] = true
			syncedAfter[c.args[0]] = append(syncedAfter[c.args[0]], i)
		case strings.HasPrefix(c.name, "rename") && len(c.args) == 2:
			from, to := c.args[0], c.args[1]
			synced[to] = synced[from]
			if live(to) && i < commit {
				liveRenames++
				if synced[to] {
					syncedFiles++
				}
				if fi, err := os.Lstat(to); err == nil && fi.Mode().IsRegular() && !synced[to] && to != state {
					// A backup moved aside is old content; anything else
					// made live must have been synced first.
					if !strings.Contains(to, "/var/lib/ferry/backup/") {
						t.Errorf("%s is made live by rename %d before its content was fsynced", to, i)
					}
				}
				needDirSync = append(needDirSync, event{i, "rename into", filepath.Dir(to)})
			}
		case strings.HasPrefix(c.name, "mkdir") && len(c.args) == 1 && live(c.args[0]) && i <= commit:
			needDirSync = append(needDirSync, event{i, "mkdir " + filepath.Base(c.args[0]) + " in", filepath.Dir(c.args[0])})
		}
	}
	if liveRenames < 10 || syncedFiles < 10 {
		t.Fatalf("only %d renames into live paths traced, %d of synced files: the trace is not of an install", liveRenames, syncedFiles)
	}
	for _, e := range needDirSync {
		ok := false
		for _, j := range syncedAfter[e.dir] {
			if j > e.i && j < commit {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s %s (call %d) is not followed by an fsync of that directory before state.json is committed", e.what, e.dir, e.i)
		}
	}
	if !synced[state] {
		t.Errorf("state.json's content was not fsynced before the rename that commits it")
	}
	dirSynced := false
	for _, j := range syncedAfter[path.Dir(state)] {
		dirSynced = dirSynced || j > commit
	}
	if !dirSynced {
		t.Errorf("%s is not fsynced after state.json is renamed into it", path.Dir(state))
	}
}

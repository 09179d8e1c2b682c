package installer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editState rewrites root's state.json through mut.
func editState(t *testing.T, root string, mut func(*State)) {
	t.Helper()
	p := filepath.Join(root, StateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	mut(&st)
	if b, err = json.Marshal(&st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUninstallKeepsWhatStateCannotVouchFor tampers state.json four ways
// (a path outside the layout whose recorded sha256 matches, a path in
// ferry's own area, a placed file changed since, a backup moved out of the
// backup area): uninstall removes the rest, keeps each of those and names
// it, and deletes nothing it cannot vouch for.
func TestUninstallKeepsWhatStateCannotVouchFor(t *testing.T) {
	bp := relA.write(t)
	root, h := installA(t, bp)
	victim := filepath.Join(root, "home/op/notes")
	writeFile(t, victim, "the operator's notes")
	internal := filepath.Join(root, FerryDir, "backup/other/keep")
	writeFile(t, internal, "not ferry's to remove")
	moved := filepath.Join(root, "home/op/moved-k3s")
	writeFile(t, moved, "a file state.json would move over k3s")
	extra := filepath.Join(root, "etc/ferry-extra.conf")
	writeFile(t, extra, "edited by the site")
	editState(t, root, func(st *State) {
		st.Files = append(st.Files,
			FileRecord{Path: "/home/op/notes", SHA256: sha256Hex([]byte("the operator's notes")), Mode: 0o644},
			FileRecord{Path: FerryDir + "/backup/other/keep", SHA256: sha256Hex([]byte("not ferry's to remove"))},
			FileRecord{Path: "/../home/op/notes", SHA256: sha256Hex([]byte("the operator's notes"))})
		for i := range st.Files {
			if st.Files[i].Path == K3sBinary {
				st.Files[i].Backup = "/home/op/moved-k3s"
			}
		}
		st.Dirs = append(st.Dirs, "/home/op", "/home")
	})
	k3sBefore := fileDigest(t, filepath.Join(root, K3sBinary))
	_, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: h}})
	var ke *KeptError
	if !errors.Is(err, ErrKept) || !errors.As(err, &ke) {
		t.Fatalf("uninstall of a tampered state: %v, want a KeptError", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("the report is not one line: %q", err)
	}
	want := map[string]string{
		"/home/op/notes":                "outside the places ferry writes",
		FerryDir + "/backup/other/keep": "where ferry places no file",
		"/../home/op/notes":             "not a clean absolute path",
		"/etc/ferry-extra.conf":         "content changed",
		K3sBinary:                       "not in ferry's backup area",
		"/home":                         "outside the places ferry writes",
	}
	got := map[string]string{}
	for _, k := range ke.Kept {
		got[k.Path] = k.Reason
	}
	for p, reason := range want {
		if !strings.Contains(got[p], reason) {
			t.Errorf("kept %s: reason %q, want it to say %q", p, got[p], reason)
		}
	}
	for p, content := range map[string]string{victim: "the operator's notes", internal: "not ferry's to remove",
		moved: "a file state.json would move over k3s", extra: "edited by the site"} {
		if b, err := os.ReadFile(p); err != nil || string(b) != content {
			t.Errorf("%s: %q %v, want it kept as it was", p, b, err)
		}
	}
	if d := fileDigest(t, filepath.Join(root, K3sBinary)); d != k3sBefore {
		t.Errorf("k3s was replaced although its backup is recorded outside the backup area")
	}
	if _, err := os.Stat(filepath.Join(root, ConfigFile)); !os.IsNotExist(err) {
		// seedForeign's config.yaml came back from its (valid) backup.
		if b, _ := os.ReadFile(filepath.Join(root, ConfigFile)); string(b) != "old: config" {
			t.Errorf("config.yaml: %q, want the original back", b)
		}
	}
	if _, err := os.Stat(filepath.Join(root, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state.json left: %v", err)
	}
}

// TestRollbackRefusesTamperedState: a kept file changed since the upgrade,
// a previous install recorded outside PreviousDir, or a placed path outside
// the layout makes rollback refuse before anything changes.
func TestRollbackRefusesTamperedState(t *testing.T) {
	bpA, bpB := relA.write(t), relB.write(t)
	tests := []struct {
		name string
		mut  func(t *testing.T, root string)
		want string
	}{
		{"changed kept file", func(t *testing.T, root string) {
			var st State
			b, _ := os.ReadFile(filepath.Join(root, StateFile))
			json.Unmarshal(b, &st)
			writeFile(t, filepath.Join(root, st.Previous.Kept, K3sBinary), "#!/bin/sh\necho swapped\n")
		}, "is not the file that was kept"},
		{"kept elsewhere", func(t *testing.T, root string) {
			writeFile(t, filepath.Join(root, "home/op/usr/local/bin/k3s"), "#!/bin/sh\necho other\n")
			editState(t, root, func(st *State) { st.Previous.Kept = "/home/op" })
		}, "not in ferry's area " + PreviousDir},
		{"path outside the layout", func(t *testing.T, root string) {
			editState(t, root, func(st *State) {
				st.Previous.Files = append(st.Previous.Files, FileRecord{Path: "/bin/sh", SHA256: sha256Hex(nil)})
			})
		}, "/bin/sh is outside the places ferry writes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, h := installA(t, bpA)
			if _, err := upgradeWith(t, h, bpB, nil); err != nil {
				t.Fatal(err)
			}
			tt.mut(t, root)
			before := snapshot(t, root)
			_, err := Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("rollback: %v, want an error saying %q", err, tt.want)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("the refused rollback changed the root:\n%s", d)
			}
		})
	}
}

// TestFilesMayNotReplaceFerrysFiles: a bundle whose files: entry lands on
// a file ferry generates, in ferry's state directory, or outside the
// places ferry writes is refused the same way by a fresh install and by an
// upgrade, before anything changes.
func TestFilesMayNotReplaceFerrysFiles(t *testing.T) {
	bpA := relA.write(t)
	tests := []struct{ hostPath, want string }{
		{"/etc/systemd/system/k3s.service.env", "is a file Ferry generates on every host"},
		{ConfigFile, "is a file Ferry generates on every host"},
		{"/etc/systemd/system/k3s.service", "is a file Ferry generates on every host"},
		{"/usr/local/bin/kubectl", "is a file Ferry generates on every host"},
		{K3sBinary, "is a file Ferry generates on every host"},
		{"/var/lib/ferry/files/x.rpm", "where Ferry keeps its own state"},
		{"/usr/bin/k3s-helper", "outside the places ferry-install writes"},
	}
	for _, tt := range tests {
		t.Run(tt.hostPath, func(t *testing.T) {
			bad := release{version: "1.5.0", extraPath: tt.hostPath}
			bp := bad.write(t)
			fresh := t.TempDir()
			before := snapshot(t, fresh)
			_, err := installInto(t, fresh, bp, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "files/extra.conf") {
				t.Fatalf("install: %v, want a refusal naming files/extra.conf saying %q", err, tt.want)
			}
			if d := diffSnapshots(before, snapshot(t, fresh)); d != "" {
				t.Fatalf("the refused install changed the root:\n%s", d)
			}
			root, h := installA(t, bpA)
			before = snapshot(t, root)
			_, err = upgradeWith(t, h, bp, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("upgrade: %v, want the install's refusal %q", err, tt.want)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("the refused upgrade changed the root:\n%s", d)
			}
		})
	}
}

// TestStateSizeBounded: a state.json over the bound is refused, not read.
func TestStateSizeBounded(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, StateFile), `{"format":1,"id":"`+strings.Repeat("a", maxStateSize)+`"}`)
	h, _ := NewLocalHost(root)
	if _, err := ReadState(context.Background(), h); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("ReadState of an oversized state.json: %v", err)
	}
}

// TestRecoveryDoesNotTrustJournals: a staging directory left in the root
// with a journal that names a file outside ferry's places, or a backup
// outside its areas, stops the run with an error and changes nothing; one
// that names a file ferry would place but whose content is not the one
// journalled keeps that file.
func TestRecoveryDoesNotTrustJournals(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	tests := []struct {
		name    string
		journal journal
		want    string // "" : the install goes ahead
	}{
		{"destination outside", journal{ID: "abc", Items: []journalEntry{{Dest: "/home/op/notes"}}}, "outside the places ferry writes"},
		{"backup outside", journal{ID: "abc", Items: []journalEntry{{Dest: "/etc/hosts", Backup: "/home/op/evil"}}}, "outside ferry's own areas"},
		{"changed file", journal{ID: "abc", Items: []journalEntry{{Dest: "/etc/hosts", SHA256: sha256Hex([]byte("other"))}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "home/op/notes"), "notes")
			writeFile(t, filepath.Join(root, "home/op/evil"), "evil")
			writeFile(t, filepath.Join(root, "etc/hosts"), "127.0.0.1 localhost\n")
			b, _ := json.Marshal(tt.journal)
			writeFile(t, filepath.Join(root, FerryDir, stagingPrefix+"abc", "journal.json"), string(b))
			keep := map[string]string{"home/op/notes": "notes", "home/op/evil": "evil", "etc/hosts": "127.0.0.1 localhost\n"}
			_, err := installInto(t, root, bp, nil)
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("install over a forged journal: %v, want %q", err, tt.want)
			}
			if tt.want == "" && err != nil {
				t.Fatalf("install: %v", err)
			}
			for p, c := range keep {
				if b, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(b) != c {
					t.Errorf("%s: %q %v, want it untouched", p, b, err)
				}
			}
		})
	}
}

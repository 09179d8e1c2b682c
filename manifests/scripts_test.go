package manifests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runSh runs script text with sh, with a one-minute bound.
func runSh(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestScriptsParse checks every generated shell script with `sh -n`.
func TestScriptsParse(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skipf("no sh on PATH: %v", err)
	}
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scripts := map[string][]byte{}
	killall, err := tm.Killall()
	if err != nil {
		t.Fatal(err)
	}
	scripts["k3s-killall.sh"] = killall
	for _, c := range goldenCases() {
		_, rc, err := tm.OpenRC(c.node)
		if err != nil {
			t.Fatal(err)
		}
		scripts[c.name+"-openrc"] = rc
		_, un, err := tm.Uninstall(c.node, placedFiles(c.node))
		if err != nil {
			t.Fatal(err)
		}
		scripts[c.name+"-uninstall.sh"] = un
		_, env, err := tm.Env(c.node)
		if err != nil {
			t.Fatal(err)
		}
		scripts[c.name+".env"] = env
	}
	_, empty, err := tm.Uninstall(Node{Role: RoleServer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	scripts["no-files-uninstall.sh"] = empty
	for name, body := range scripts {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := runSh(t, nil, "-n", p); err != nil {
				t.Errorf("sh -n %s: %v\n%s", name, err, out)
			}
		})
	}
}

// TestEnvRoundTrip sources the env file in a shell and checks that every
// secret reads back byte for byte, whatever quotes and dollars it holds.
func TestEnvRoundTrip(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"plain", `dq"uote`, "sq'uote", `back\slash`, "dollar$HOME", "tick`id`", "sp ace;&|<>*?"}
	for _, s := range secrets {
		t.Run(s, func(t *testing.T) {
			n := Node{Role: RoleServer, Token: s, DatastoreEndpoint: "mysql://u:" + s + "@tcp(db:3306)/k3s"}
			_, body, err := tm.Env(n)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "k3s.service.env")
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runSh(t, []string{"ENVFILE=" + p}, "-c", `. "$ENVFILE"; printf '%s\n%s' "$K3S_TOKEN" "$K3S_DATASTORE_ENDPOINT"`)
			if err != nil {
				t.Fatalf("source env file: %v\n%s", err, out)
			}
			if want := s + "\n" + n.DatastoreEndpoint; out != want {
				t.Errorf("read back %q, want %q", out, want)
			}
		})
	}
	if _, _, err := tm.Env(Node{Role: RoleServer, Token: "two\nlines"}); err == nil {
		t.Error("a token with a line break was accepted")
	}
}

// TestUninstallRemovesExactlyFiles runs the uninstall script with stub
// systemctl and checks that it stops and disables the unit and removes the
// listed files and nothing else.
func TestUninstallRemovesExactlyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the uninstall script; skipped under -short")
	}
	for _, p := range []string{KillallPath, "/etc/init.d/k3s", "/etc/init.d/k3s-agent"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("%s exists on this host; the uninstall script would run it", p)
		}
	}
	if os.Getuid() != 0 {
		t.Skip("the uninstall script refuses to run as non-root")
	}
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		node Node
		unit string
	}{
		{"server", Node{Role: RoleServer}, "k3s.service"},
		{"agent", Node{Role: RoleAgent, Server: "https://192.0.2.10:6443", Token: "t"}, "k3s-agent.service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stubs := filepath.Join(dir, "stubs")
			log := filepath.Join(dir, "systemctl.log")
			if err := os.Mkdir(stubs, 0o755); err != nil {
				t.Fatal(err)
			}
			stub := "#!/bin/sh\necho \"$*\" >> " + shellQuote(log) + "\n"
			if err := os.WriteFile(filepath.Join(stubs, "systemctl"), []byte(stub), 0o755); err != nil {
				t.Fatal(err)
			}
			placed := []string{filepath.Join(dir, "bin", "k3s"), filepath.Join(dir, "etc", "it's config.yaml"), filepath.Join(dir, "etc", "$(touch pwned)")}
			keep := []string{filepath.Join(dir, "etc", "site-notes.txt"), filepath.Join(dir, "bin", "other")}
			for _, p := range append(append([]string{}, placed...), keep...) {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// One listed file is already gone: the script still succeeds.
			placed = append(placed, filepath.Join(dir, "etc", "gone"))
			_, body, err := tm.Uninstall(tt.node, placed)
			if err != nil {
				t.Fatal(err)
			}
			script := filepath.Join(dir, "uninstall.sh")
			if err := os.WriteFile(script, body, 0o700); err != nil {
				t.Fatal(err)
			}
			// Run from dir, so that a file name executed as a command
			// would leave dir/pwned behind.
			out, err := runSh(t, []string{"PATH=" + stubs + ":" + os.Getenv("PATH"), "D=" + dir, "S=" + script}, "-c", `cd "$D" && sh "$S"`)
			if err != nil {
				t.Fatalf("uninstall: %v\n%s", err, out)
			}
			for _, p := range placed {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s still exists (stat err %v)", p, err)
				}
			}
			for _, p := range keep {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("%s was removed: %v", p, err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Error("a file name was executed by the shell")
			}
			calls, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"stop " + tt.unit, "disable " + tt.unit, "daemon-reload"} {
				if !strings.Contains(string(calls), want) {
					t.Errorf("systemctl calls %q lack %q", calls, want)
				}
			}
		})
	}
}

func TestUninstallRejectsPaths(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "relative/file", "/", "/etc/../etc/passwd", "/etc/k3s/", "/a\nb"} {
		t.Run(p, func(t *testing.T) {
			if _, _, err := tm.Uninstall(Node{Role: RoleServer}, []string{p}); err == nil {
				t.Errorf("path %q was accepted", p)
			}
		})
	}
}

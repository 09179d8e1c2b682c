package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/installer"
)

// TestLockedRootCLI: while a run holds the root, server and uninstall
// exit at once with one line naming the holder's pid, and change nothing.
func TestLockedRootCLI(t *testing.T) {
	bp, pub := longhornBundle(t)
	root := t.TempDir()
	h, err := installer.NewLocalHost(root)
	if err != nil {
		t.Fatal(err)
	}
	held, err := h.Lock(context.Background(), installer.LockFile)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	for _, args := range [][]string{
		{"uninstall", "--root", root},
		{"server", "--root", root, "--bundle", bp, "--key", pub, "--no-start", "--skip-preflight"},
		{"rollback", "--root", root, "--no-start"},
	} {
		_, err := runInstall(t, args...)
		if !errors.Is(err, installer.ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s on a held root: %v, want one line naming pid %d", args[0], err, os.Getpid())
		}
		if code := exitCode(err); code != exitLocked {
			t.Errorf("%s: exit code %d, want %d", args[0], code, exitLocked)
		}
	}
}

// TestConfigOwnedKeyCLI: a --config file setting a key ferry owns is
// refused naming the key and the flag to use, and the root is unchanged.
func TestConfigOwnedKeyCLI(t *testing.T) {
	bp, pub := longhornBundle(t)
	cfg := filepath.Join(t.TempDir(), "extra.yaml")
	for key, flag := range map[string]string{"data-dir: /srv/k3s\n": "remove it", "server: https://10.0.0.1:6443\n": "--join", "node-label: [a=b]\n": "--node-label"} {
		if err := os.WriteFile(cfg, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		_, err := runInstall(t, "server", "--root", root, "--bundle", bp, "--key", pub, "--no-start", "--skip-preflight", "--cluster-init", "--config", cfg)
		name, _, _ := strings.Cut(key, ":")
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), flag) {
			t.Errorf("--config with %s: %v, want a refusal naming %q and %q", name, err, name, flag)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Errorf("--config with %s left %d entries in the root", name, len(ents))
		}
	}
}

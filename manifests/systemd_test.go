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

const systemdAnalyze = "/usr/bin/systemd-analyze"

// fakeRoot builds an alternate root for `systemd-analyze verify --root`:
// the host's stock units (for the targets the unit refers to) and stub
// executables at every path the unit runs.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	stock := "/usr/lib/systemd/system"
	entries, err := os.ReadDir(stock)
	if err != nil {
		t.Skipf("no stock systemd units at %s to verify against: %v", stock, err)
	}
	dst := filepath.Join(root, stock)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(stock, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, bin := range []string{"/bin/sh", "/sbin/modprobe", "/usr/bin/systemctl", BinDir + "/k3s"} {
		p := filepath.Join(root, bin)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, SystemdDir), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestUnitsVerify runs systemd-analyze verify on every generated unit and
// fails on any message about it.
func TestUnitsVerify(t *testing.T) {
	if _, err := os.Stat(systemdAnalyze); err != nil {
		t.Skipf("systemd-analyze is not installed at %s (apt-get install systemd): %v", systemdAnalyze, err)
	}
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			root := fakeRoot(t)
			name, body, err := tm.Unit(c.node)
			if err != nil {
				t.Fatal(err)
			}
			unit := filepath.Join(SystemdDir, name)
			if err := os.WriteFile(filepath.Join(root, unit), body, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, systemdAnalyze, "verify", "--root="+root, "--man=no", unit)
			out, err := cmd.CombinedOutput()
			if err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("systemd-analyze verify %s: err=%v\n%s", name, err, out)
			}
		})
	}
	// The check itself must be able to fail: a unit with an unknown key.
	t.Run("detects-bad-unit", func(t *testing.T) {
		root := fakeRoot(t)
		unit := filepath.Join(SystemdDir, "k3s.service")
		_, body, err := tm.Unit(Node{Role: RoleServer})
		if err != nil {
			t.Fatal(err)
		}
		body = []byte(strings.Replace(string(body), "KillMode=process", "KillMode=process\nKilMode=typo", 1))
		if err := os.WriteFile(filepath.Join(root, unit), body, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, _ := exec.CommandContext(ctx, systemdAnalyze, "verify", "--root="+root, "--man=no", unit).CombinedOutput()
		if !strings.Contains(string(out), "KilMode") {
			t.Errorf("systemd-analyze did not report the unknown key; output:\n%s", out)
		}
	})
}

// TestUnitShape checks the unit's directives that the installer and k3s
// rely on, for both roles.
func TestUnitShape(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		node     Node
		wantName string
		want     []string
	}{
		{Node{Role: RoleServer}, "k3s.service", []string{
			"Type=notify", "KillMode=process", "Delegate=yes", "LimitNOFILE=1048576", "Restart=always",
			"EnvironmentFile=-/etc/systemd/system/k3s.service.env", "ExecStart=/usr/local/bin/k3s server\n",
			"ExecStartPre=-/sbin/modprobe br_netfilter", "ExecStartPre=-/sbin/modprobe overlay", "WantedBy=multi-user.target",
		}},
		{Node{Role: RoleAgent, Server: "https://192.0.2.10:6443", Token: "t"}, "k3s-agent.service", []string{
			"Type=notify", "EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env", "ExecStart=/usr/local/bin/k3s agent\n",
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.node.Role), func(t *testing.T) {
			name, body, err := tm.Unit(tt.node)
			if err != nil {
				t.Fatal(err)
			}
			if name != tt.wantName {
				t.Errorf("name = %q, want %q", name, tt.wantName)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("unit lacks %q", w)
				}
			}
		})
	}
}

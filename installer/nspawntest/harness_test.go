package nspawntest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHarness proves a container boots and systemctl works inside it.
func TestHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := Boot(ctx, t)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "systemd is PID 1", args: []string{"cat", "/proc/1/comm"}, want: "systemd"},
		{name: "system state", args: []string{"systemctl", "is-system-running"}, want: "running"},
		{name: "units load", args: []string{"systemctl", "is-active", "systemd-journald.service"}, want: "active"},
		{name: "bookworm", args: []string{"cat", "/etc/debian_version"}, want: "12."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.Exec(ctx, tt.args...)
			if err != nil {
				t.Fatalf("%v: %v: %s", tt.args, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("%v = %q, want %q", tt.args, out, tt.want)
			}
		})
	}

	t.Run("copy in", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "hello")
		if err := os.WriteFile(src, []byte("#!/bin/sh\necho hello from $(cat /proc/1/comm)\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyIn(src, "/root/hello"); err != nil {
			t.Fatal(err)
		}
		out, err := c.Exec(ctx, "/root/hello")
		if err != nil || strings.TrimSpace(string(out)) != "hello from systemd" {
			t.Fatalf("/root/hello = %q, %v", out, err)
		}
	})

	t.Run("a unit starts", func(t *testing.T) {
		unit := "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n"
		src := filepath.Join(t.TempDir(), "ferry-probe.service")
		if err := os.WriteFile(src, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.CopyIn(src, "/etc/systemd/system/ferry-probe.service"); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"systemctl", "daemon-reload"}, {"systemctl", "start", "ferry-probe"}} {
			if out, err := c.Exec(ctx, args...); err != nil {
				t.Fatalf("%v: %v: %s", args, err, out)
			}
		}
		if out, _ := c.Exec(ctx, "systemctl", "is-active", "ferry-probe"); strings.TrimSpace(string(out)) != "active" {
			t.Errorf("ferry-probe is %q, want active", out)
		}
	})

	dir := c.Dir
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("container directory %s left after Close: %v", dir, err)
	}
}

func TestMirror(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body, want string
	}{
		{name: "one-line", body: "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example/debian/ bookworm main\n", want: "http://mirror.example/debian"},
		{name: "deb822", body: "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n", want: "http://deb.debian.org/debian"},
		{name: "security only", body: "deb http://deb.debian.org/debian-security bookworm-security main\n", want: ""},
		{name: "not debian", body: "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := mirrorIn(p); got != tt.want {
				t.Errorf("mirrorIn = %q, want %q", got, tt.want)
			}
		})
	}
	if m := Mirror(); !strings.HasPrefix(m, "http") {
		t.Errorf("Mirror() = %q", m)
	}
}

package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		dirs    []string
		files   []string
		env     string
		want    string
		wantErr error
	}{
		{name: "booted systemd", dirs: []string{"run/systemd/system"}, want: "systemd"},
		{name: "image with systemd", files: []string{"lib/systemd/systemd"}, want: "systemd"},
		{name: "openrc", files: []string{"sbin/openrc-run"}, want: "openrc"},
		{name: "nothing", wantErr: ErrNoManager},
		{name: "exec only when asked", env: "exec", want: "exec"},
		{name: "env wins", dirs: []string{"run/systemd/system"}, env: "openrc", want: "openrc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range tt.dirs {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, f), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			getenv := func(k string) string {
				if k == EnvManager {
					return tt.env
				}
				return ""
			}
			m, err := Detect(root, WithGetenv(getenv))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "--no-start") {
					t.Fatalf("Detect = %v, want %v suggesting --no-start", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name() != tt.want {
				t.Errorf("Detect = %s, want %s", m.Name(), tt.want)
			}
		})
	}
	if _, err := Detect(t.TempDir(), WithGetenv(func(string) string { return "upstart" })); err == nil || !strings.Contains(err.Error(), "upstart") {
		t.Errorf("Detect with a bad %s = %v, want an error naming it", EnvManager, err)
	}
}

// recorder answers commands from a table and records them. It stands in
// for systemctl and rc-service, which do not run on the build host (the
// real systemd is exercised in installer/nspawntest).
type recorder struct {
	calls   []string
	answers map[string]string // command line → output; exit 3 when missing
}

func (r *recorder) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	line := commandLine(name, args)
	r.calls = append(r.calls, line)
	out, ok := r.answers[line]
	if !ok {
		return []byte("inactive\n"), &ExitError{Command: line, Code: 3, Output: "inactive\n"}
	}
	return []byte(out), nil
}

func TestSystemdAndOpenRCCommands(t *testing.T) {
	ctx := context.Background()
	type step func(Manager) error
	all := func(m Manager) error {
		for _, f := range []func() error{
			func() error { return m.DaemonReload(ctx) },
			func() error { return m.Enable(ctx, "k3s") },
			func() error { return m.Start(ctx, "k3s.service") },
			func() error { return m.Stop(ctx, "k3s") },
			func() error { return m.Disable(ctx, "k3s") },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	}
	tests := []struct {
		name    string
		m       func(r Runner) Manager
		run     step
		answers map[string]string
		want    []string
		active  bool
		enabled bool
	}{
		{name: "systemd", m: func(r Runner) Manager { return &Systemd{Runner: r} }, run: all,
			answers: map[string]string{"systemctl is-active k3s.service": "active\n", "systemctl is-enabled k3s.service": "enabled\n"},
			want: []string{"systemctl daemon-reload", "systemctl enable k3s.service", "systemctl start --no-block k3s.service", "systemctl stop k3s.service",
				"systemctl disable k3s.service", "systemctl is-active k3s.service", "systemctl is-enabled k3s.service"},
			active: true, enabled: true},
		{name: "systemd inactive", m: func(r Runner) Manager { return &Systemd{Root: "/", Runner: r} },
			want: []string{"systemctl is-active k3s.service", "systemctl is-enabled k3s.service"}},
		{name: "systemd offline root", m: func(r Runner) Manager { return &Systemd{Root: "/mnt/img", Runner: r} },
			run: func(m Manager) error {
				return errors.Join(m.DaemonReload(ctx), m.Enable(ctx, "k3s"), m.Stop(ctx, "k3s"))
			},
			answers: map[string]string{"systemctl --root=/mnt/img enable k3s.service": "", "systemctl --root=/mnt/img is-enabled k3s.service": "enabled\n"},
			want:    []string{"systemctl --root=/mnt/img enable k3s.service", "systemctl --root=/mnt/img is-enabled k3s.service"}, enabled: true},
		{name: "openrc", m: func(r Runner) Manager { return &OpenRC{Runner: r} }, run: all,
			answers: map[string]string{"rc-update add k3s default": "", "rc-service k3s start": "", "rc-service k3s stop": "", "rc-update del k3s default": "",
				"rc-service k3s status": " * status: started\n", "rc-update show default": "        k3s | default\n    sshd | default\n"},
			want: []string{"rc-update add k3s default", "rc-service k3s start", "rc-service k3s stop", "rc-update del k3s default",
				"rc-service k3s status", "rc-update show default"},
			active: true, enabled: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{answers: map[string]string{"systemctl daemon-reload": "", "systemctl enable k3s.service": "", "systemctl start --no-block k3s.service": "", "systemctl stop k3s.service": "", "systemctl disable k3s.service": ""}}
			for k, v := range tt.answers {
				r.answers[k] = v
			}
			m := tt.m(r)
			if tt.run != nil {
				if err := tt.run(m); err != nil {
					t.Fatal(err)
				}
			}
			active, err := m.IsActive(ctx, "k3s")
			if err != nil || active != tt.active {
				t.Errorf("IsActive = %v, %v; want %v", active, err, tt.active)
			}
			enabled, err := m.IsEnabled(ctx, "k3s")
			if err != nil || enabled != tt.enabled {
				t.Errorf("IsEnabled = %v, %v; want %v", enabled, err, tt.enabled)
			}
			if !slices.Equal(r.calls, tt.want) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(r.calls, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestOfflineStartRefused(t *testing.T) {
	for _, m := range []Manager{&Systemd{Root: "/mnt/img", Runner: &recorder{}}, &OpenRC{Root: "/mnt/img", Runner: &recorder{}}} {
		if err := m.Start(context.Background(), "k3s"); !errors.Is(err, ErrOfflineRoot) {
			t.Errorf("%s Start in an alternate root = %v, want ErrOfflineRoot", m.Name(), err)
		}
	}
}

func TestOpenRCOfflineEnable(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	m := &OpenRC{Root: root, Runner: &recorder{}}
	if err := m.Enable(ctx, "k3s-agent.service"); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "etc/runlevels/default/k3s-agent")); err != nil || target != "/etc/init.d/k3s-agent" {
		t.Fatalf("runlevel link = %q, %v", target, err)
	}
	if on, _ := m.IsEnabled(ctx, "k3s-agent"); !on {
		t.Error("IsEnabled = false after Enable")
	}
	if err := m.Disable(ctx, "k3s-agent"); err != nil {
		t.Fatal(err)
	}
	if on, _ := m.IsEnabled(ctx, "k3s-agent"); on {
		t.Error("IsEnabled = true after Disable")
	}
}

func TestLocalRunnerExitError(t *testing.T) {
	_, err := LocalRunner{}.Run(context.Background(), "sh", "-c", "echo inactive; exit 3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.Contains(ee.Output, "inactive") {
		t.Fatalf("Run = %v, want *ExitError code 3", err)
	}
	if _, err := (LocalRunner{}).Run(context.Background(), "/nonexistent/systemctl"); err == nil || errors.As(err, &ee) {
		t.Fatalf("Run of a missing program = %v, want a non-exit error", err)
	}
}

// TestWaitReadyJournal checks that a timeout under systemd carries the
// journal's last lines.
func TestWaitReadyJournal(t *testing.T) {
	r := &recorder{answers: map[string]string{"journalctl -u k3s -n 20 --no-pager": "line one\nline two: failed to find a node IP\n"}}
	err := WaitReady(context.Background(), WaitOptions{Manager: &Systemd{Runner: r}, Runner: r, Timeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond, NodeName: "n1"})
	var we *WaitError
	if !errors.As(err, &we) {
		t.Fatalf("WaitReady = %v, want *WaitError", err)
	}
	if we.LogSource != "journalctl -u k3s" || len(we.Log) != 2 || !strings.Contains(err.Error(), "failed to find a node IP") {
		t.Errorf("log %q from %q; error:\n%v", we.Log, we.LogSource, err)
	}
	if !slices.Contains(r.calls, "/usr/local/bin/k3s kubectl get nodes -o json") {
		t.Errorf("bundled kubectl not queried: %q", r.calls)
	}
}

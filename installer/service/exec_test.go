package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExecStartWaitStop(t *testing.T) {
	tests := []struct {
		name  string
		role  string
		unit  string
		files map[string]string
	}{
		{name: "server", role: "server", unit: "k3s.service", files: map[string]string{
			"etc/systemd/system/k3s.service":     k3sUnit,
			"etc/systemd/system/k3s.service.env": "K3S_TOKEN='from-env-file'\n",
		}},
		{name: "agent", role: "agent", unit: "k3s-agent", files: map[string]string{
			"etc/systemd/system/k3s-agent.service":     k3sAgentUnit,
			"etc/systemd/system/k3s-agent.service.env": "K3S_TOKEN=T\nK3S_URL=https://127.0.0.1:6443\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			root := newRoot(t, tt.files)
			m := &Exec{Root: root, StopTimeout: 5 * time.Second}
			if err := m.Enable(ctx, tt.unit); err != nil {
				t.Fatal(err)
			}
			if on, _ := m.IsEnabled(ctx, tt.unit); !on {
				t.Error("IsEnabled = false after Enable")
			}
			if err := m.Start(ctx, tt.unit); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Stop(context.Background(), tt.unit) })
			progress := make(chan WaitProgress, 100)
			err := WaitReady(ctx, WaitOptions{Root: root, Role: tt.role, Manager: m, Timeout: 20 * time.Second, Poll: 100 * time.Millisecond, Progress: progress})
			if err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			close(progress)
			var last WaitProgress
			for p := range progress {
				last = p
			}
			if last.Stage != "ready" {
				t.Errorf("last progress = %+v, want stage ready", last)
			}
			if tt.role == "server" {
				token, err := os.ReadFile(filepath.Join(root, "var/lib/rancher/k3s/server/node-token"))
				if err != nil || !strings.Contains(string(token), "from-env-file") {
					t.Errorf("node-token = %q (%v): EnvironmentFile not passed", token, err)
				}
			}

			// A second manager (a later ferry-install run) sees and stops it.
			other := &Exec{Root: root, StopTimeout: 5 * time.Second}
			if on, _ := other.IsActive(ctx, tt.unit); !on {
				t.Fatal("a second Exec does not see the running unit")
			}
			if err := other.Stop(ctx, tt.unit); err != nil {
				t.Fatal(err)
			}
			if on, _ := m.IsActive(ctx, tt.unit); on {
				t.Error("IsActive = true after Stop")
			}
			if _, err := os.Lstat(filepath.Join(root, "var/lib/rancher/k3s/standin/ready")); err == nil {
				t.Error("ready file left after Stop: SIGTERM not delivered")
			}
			if err := m.Disable(ctx, tt.unit); err != nil {
				t.Fatal(err)
			}
			if on, _ := m.IsEnabled(ctx, tt.unit); on {
				t.Error("IsEnabled = true after Disable")
			}
			if log, _ := os.ReadFile(m.LogPath(tt.unit)); !strings.Contains(string(log), "up and running") {
				t.Errorf("log %s lacks the start message: %q", m.LogPath(tt.unit), log)
			}
		})
	}
}

func TestExecFailReadyTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRoot(t, map[string]string{
		"etc/systemd/system/k3s.service":     k3sUnit,
		"etc/systemd/system/k3s.service.env": "K3S_STANDIN_FAIL=ready\n",
	})
	m := &Exec{Root: root}
	if err := m.Start(ctx, "k3s"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background(), "k3s") })
	start := time.Now()
	err := WaitReady(ctx, WaitOptions{Root: root, Manager: m, Timeout: 3 * time.Second, Poll: 100 * time.Millisecond})
	var we *WaitError
	if !errors.As(err, &we) {
		t.Fatalf("WaitReady = %v, want *WaitError", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("WaitReady took %s with a 3s timeout", d)
	}
	if len(we.Log) == 0 || !strings.Contains(err.Error(), "fault injection") {
		t.Errorf("error carries no log lines: %v", err)
	}
	for _, want := range []string{"not Ready", "journalctl -u k3s -f", "6443", "default route"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestExecStartErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{name: "no unit file", want: "read unit file"},
		{name: "exits at once", files: map[string]string{
			"etc/systemd/system/k3s.service":     k3sUnit,
			"etc/systemd/system/k3s.service.env": "K3S_STANDIN_FAIL=start\n",
		}, want: "failing at start"},
		{name: "no ExecStart", files: map[string]string{"etc/systemd/system/k3s.service": "[Service]\nType=notify\n"}, want: "no ExecStart"},
		{name: "missing env file", files: map[string]string{"etc/systemd/system/k3s.service": "[Service]\nEnvironmentFile=/nope.env\nExecStart=/usr/local/bin/k3s server\n"}, want: "EnvironmentFile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			m := &Exec{Root: newRoot(t, tt.files), StartGrace: 2 * time.Second}
			err := m.Start(ctx, "k3s")
			t.Cleanup(func() { _ = m.Stop(context.Background(), "k3s") })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start = %v, want error containing %q", err, tt.want)
			}
			if on, _ := m.IsActive(ctx, "k3s"); on {
				t.Error("IsActive = true after a failed start")
			}
		})
	}
}

func TestWaitReadyCancelled(t *testing.T) {
	root := newRoot(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitReady(ctx, WaitOptions{Root: root, Timeout: time.Minute, Poll: 10 * time.Millisecond})
	var we *WaitError
	if !errors.Is(err, context.Canceled) || errors.As(err, &we) {
		t.Fatalf("WaitReady = %v, want context.Canceled", err)
	}
}

func TestWaitReadyBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts WaitOptions
		want string
	}{
		{name: "role", opts: WaitOptions{Role: "worker"}, want: `role "worker"`},
		{name: "agent without manager", opts: WaitOptions{Role: "agent"}, want: "no service manager"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WaitReady(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WaitReady = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

package service

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// standin runs the stand-in under root with extra environment.
func standin(ctx context.Context, root string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(root, "usr/local/bin/k3s"), args...)
	cmd.Env = append(append(os.Environ(), "K3S_STANDIN_ROOT="+root), env...)
	return cmd
}

// waitFile polls for path to exist (or not) for at most 10s.
func waitFile(t *testing.T, path string, want bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if exists(path) == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s exists=%v after 10s, want %v", path, exists(path), want)
}

func TestStandinServer(t *testing.T) {
	tests := []struct {
		name      string
		env       []string
		failFile  bool
		wantReady bool
	}{
		{name: "ready", wantReady: true},
		{name: "token from env", env: []string{"K3S_TOKEN=s3cret"}, wantReady: true},
		{name: "fail-ready file", failFile: true},
		{name: "fail-ready env", env: []string{"K3S_STANDIN_FAIL=ready"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			root := newRoot(t, map[string]string{"etc/rancher/k3s/config.yaml": "node-name: standin-node\nwrite-kubeconfig-mode: \"0600\"\ntls-san:\n  - a.example\n"})
			dataDir := filepath.Join(root, "var/lib/rancher/k3s")
			if tt.failFile {
				if err := os.MkdirAll(filepath.Join(dataDir, "standin"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dataDir, "standin/fail-ready"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			cmd := standin(ctx, root, tt.env, "server")
			cmd.Stderr = &log
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

			kubeconfig := filepath.Join(root, "etc/rancher/k3s/k3s.yaml")
			waitFile(t, kubeconfig, true)
			token, err := os.ReadFile(filepath.Join(dataDir, "server/node-token"))
			if err != nil {
				t.Fatalf("node-token: %v", err)
			}
			if !strings.HasPrefix(string(token), "K10") || (tt.name == "token from env" && !strings.HasSuffix(strings.TrimSpace(string(token)), "::server:s3cret")) {
				t.Errorf("node-token = %q", token)
			}
			readyFile := filepath.Join(dataDir, "standin/ready")
			if tt.wantReady {
				waitFile(t, readyFile, true)
			} else {
				time.Sleep(300 * time.Millisecond)
			}
			out, err := standin(ctx, root, nil, "kubectl", "get", "nodes", "-o", "json").Output()
			if err != nil {
				t.Fatalf("kubectl get nodes: %v", err)
			}
			ready, why, err := nodeReady(out, "standin-node")
			if err != nil || ready != tt.wantReady {
				t.Fatalf("node ready = %v (%s, %v), want %v; output %s", ready, why, err, tt.wantReady, out)
			}
			out, err = standin(ctx, root, nil, "kubectl", "get", "pods", "-n", "kube-system", "-o", "json").Output()
			if err != nil {
				t.Fatalf("kubectl get pods: %v", err)
			}
			done, total, _, err := podsRunning(out)
			if err != nil || total != 3 || (done == total) != tt.wantReady {
				t.Fatalf("pods %d/%d (%v), want all running = %v", done, total, err, tt.wantReady)
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("stand-in after SIGTERM: %v\n%s", err, log.String())
			}
			if exists(readyFile) {
				t.Errorf("ready file %s left after SIGTERM", readyFile)
			}
		})
	}
}

func TestStandinCommands(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		wantErr bool
		want    string
	}{
		{name: "version", args: []string{"--version"}, want: "k3s version v1.30.9+k3s9 (stand-in)"},
		{name: "fail at start", args: []string{"server"}, env: []string{"K3S_STANDIN_FAIL=start"}, wantErr: true, want: "K3S_STANDIN_FAIL=start"},
		{name: "agent without server", args: []string{"agent"}, env: []string{"K3S_TOKEN=t"}, wantErr: true, want: "K3S_URL"},
		{name: "kubectl before start", args: []string{"kubectl", "get", "nodes", "-o", "json"}, wantErr: true, want: "refused"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: true, want: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			root := newRoot(t, nil)
			out, err := standin(ctx, root, tt.env, tt.args...).CombinedOutput()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v; output %s", err, tt.wantErr, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q does not contain %q", out, tt.want)
			}
		})
	}
}

// TestStandinNotify checks the READY=1 datagram systemd would receive.
func TestStandinNotify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	root := newRoot(t, nil)
	sockPath := filepath.Join(t.TempDir(), "notify")
	conn, err := listenUnixgram(sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := standin(ctx, root, []string{"NOTIFY_SOCKET=" + sockPath, "K3S_TOKEN=t", "K3S_URL=https://127.0.0.1:6443"}, "agent")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 256)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notify socket: %v", err)
	}
	if got := string(buf[:n]); got != "READY=1" {
		t.Errorf("notify message = %q, want READY=1", got)
	}
}

// exists reports whether anything is at p (a path of this machine).
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

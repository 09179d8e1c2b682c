package service

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// standinBin is the k3s stand-in (testdata/k3s-standin) built once for the
// package's tests by TestMain.
var standinBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ferry-standin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	standinBin = filepath.Join(dir, "k3s")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v1.30.9+k3s9", "-o", standinBin, "../../testdata/k3s-standin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the k3s stand-in: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// k3sUnit is shaped like the unit k3s's install script writes.
const k3sUnit = `[Unit]
Description=Lightweight Kubernetes
Wants=network-online.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/systemd/system/k3s.service.env
KillMode=process
Delegate=yes
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStart=/usr/local/bin/k3s \
    server \

[Install]
WantedBy=multi-user.target
`

const k3sAgentUnit = `[Service]
Type=notify
EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env
ExecStart=/usr/local/bin/k3s \
    agent \
`

// newRoot lays out an alternate root with the stand-in as
// /usr/local/bin/k3s and the given files (path → content).
func newRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "usr/local/bin/k3s")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(standinBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func listenUnixgram(path string) (*net.UnixConn, error) {
	return net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
}

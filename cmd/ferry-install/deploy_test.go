package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/installer/deploy"
)

func TestDeployCmdDryRun(t *testing.T) {
	dir := t.TempDir()
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(cluster, []byte(`apiVersion: ferry.k3s.io/v1
kind: Cluster
metadata: {name: plant-7}
bundle: edge.ferry
key: ferry.pub
servers: [{address: 10.0.0.10}]
agents: [{address: 10.0.0.20}]
`), 0o600)
	out, err := runInstall(t, "deploy", "-f", cluster, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no host is contacted", "[10.0.0.10] install server", "ferry-install server --bundle /var/lib/ferry-deploy/edge.ferry", "[10.0.0.20] install agent"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "--cluster-init") {
		t.Errorf("a single server got --cluster-init:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "plant-7.token")); !os.IsNotExist(err) {
		t.Error("a dry run created the token file")
	}
}

func TestDeployCmdBadInput(t *testing.T) {
	cluster := filepath.Join(t.TempDir(), "cluster.yaml")
	os.WriteFile(cluster, []byte("apiVersion: ferry.k3s.io/v1\nkind: Cluster\nservers: [{address: 10.0.0.10}]\n"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, "pass -f cluster.yaml or -i inventory.yml"},
		{[]string{"deploy", "-f", "a", "-i", "b"}, "not both"},
		{[]string{"deploy", "status", "-f", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{[]string{"server", "--token", "a", "--token-file", "b"}, "give the token once"},
		{[]string{"deploy", "upgrade", "-f", cluster}, "--bundle NEW"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, err := runInstall(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestDeployStatusUnreachable checks that a host that cannot be reached is
// in the table and makes the command return a *deploy.HostsError (exit 7).
func TestDeployStatusUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	dir := t.TempDir()
	cluster := filepath.Join(dir, "cluster.yaml")
	os.WriteFile(cluster, []byte(fmt.Sprintf(`apiVersion: ferry.k3s.io/v1
kind: Cluster
ssh: {port: %d, identityFile: %s, knownHosts: %s}
servers: [{address: 127.0.0.1, name: srv-1}]
`, port, filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts"))), 0o600)
	os.WriteFile(filepath.Join(dir, "id"), []byte("not a key"), 0o600)
	t.Setenv("SSH_AUTH_SOCK", "")
	out, err := runInstall(t, "deploy", "status", "-f", cluster)
	var he *deploy.HostsError
	if !errors.As(err, &he) || len(he.Failed) != 1 || he.Failed[0] != "srv-1" {
		t.Fatalf("err = %v, want a HostsError naming srv-1", err)
	}
	if !strings.Contains(out, "srv-1") || !strings.Contains(out, "REACHABLE") {
		t.Errorf("table:\n%s", out)
	}
}

func TestLiveTable(t *testing.T) {
	c := &deploy.Cluster{Servers: []deploy.Node{{Address: "10.0.0.10", Name: "srv-1"}}, Agents: []deploy.Node{{Address: "10.0.0.20"}}}
	lt := newLiveTable(c)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lt.apply(deploy.Event{Host: "srv-1", Step: "copy the bundle", State: "start", BytesSent: 3 << 20, At: at})
	lt.apply(deploy.Event{Host: "10.0.0.20", Step: "preflight agent", State: "failed", Err: "preflight failed: hostname\n  FAIL ...", At: at})
	lt.apply(deploy.Event{Host: "srv-1", Step: "copy the bundle", State: "progress", BytesSent: 5 << 20, At: at.Add(4 * time.Second)})
	var out strings.Builder
	lt.draw(&out, at.Add(5*time.Second))
	lt.draw(&out, at.Add(6*time.Second))
	s := out.String()
	for _, want := range []string{"HOST", "srv-1", "start", "5s", "5.0 MiB", "copy the bundle", "10.0.0.20", "failed", "preflight agent: preflight failed: hostname", "\x1b[4A"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FAIL ...") {
		t.Errorf("the table carries more than an error's first line:\n%s", s)
	}
}

func TestDeployCmdInventoryDryRun(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yml")
	os.WriteFile(inv, []byte(`k3s_cluster:
  children:
    server:
      hosts:
        10.9.0.11:
        10.9.0.12:
    agent:
      hosts:
        10.9.0.20:
  vars:
    ansible_user: debian
    token: "t0ken"
`), 0o600)
	out, err := runInstall(t, "deploy", "-i", inv, "--bundle", "/media/usb/edge.ferry", "--key", "/media/usb/ferry.pub", "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[10.9.0.11] install server", "--cluster-init", "[10.9.0.12] install server", "--join https://10.9.0.11:6443",
		"[10.9.0.20] install agent", "ssh debian@10.9.0.20 port 22", "sudo -n", "/var/lib/ferry-deploy/edge.ferry"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "t0ken") {
		t.Errorf("the dry run prints the token:\n%s", out)
	}
}

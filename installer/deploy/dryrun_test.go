package deploy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRun checks that a dry run prints every host's steps in HA order
// with the commands, contacts no host (the port is closed) and writes
// nothing: no token file, no logs.
func TestDryRun(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "cluster.yaml", `apiVersion: ferry.k3s.io/v1
kind: Cluster
metadata: {name: plant-7}
bundle: edge.ferry
key: ferry.pub
ssh: {port: 1, knownHosts: known_hosts, identityFile: id}
apiEndpoint: 10.0.0.100
servers:
  - {address: 10.0.0.10, name: srv-1}
  - {address: 10.0.0.11, name: srv-2}
agents:
  - {address: 10.0.0.20, name: agt-1, labels: [zone=a]}
serverArgs: {cluster-cidr: 10.42.0.0/16}
set: {nfs.nfs.server: 10.0.0.5}
`)
	c, err := LoadCluster(p)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Deploy(context.Background(), Options{Cluster: c, DryRun: true, DryRunOutput: &out})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun {
		t.Error("result is not marked as a dry run")
	}
	text := out.String()
	order := []string{
		"no host is contacted",
		"verify the bundle here",
		"preflight every host",
		"[srv-1] preflight server", "--cluster-init",
		"[srv-2] preflight server", "--join https://10.0.0.100:6443",
		"install the first server",
		"[srv-1] install server", "ferry-install server --bundle /var/lib/ferry-deploy/edge.ferry --key /var/lib/ferry-deploy/ferry.pub --cluster-init --token-file /var/lib/ferry-deploy/token --tls-san 10.0.0.100 --config /var/lib/ferry-deploy/config.yaml --set nfs.nfs.server=10.0.0.5",
		"join the other servers one at a time",
		"[srv-2] install server", "--join https://10.0.0.100:6443",
		"install the agents",
		"[agt-1] install agent", "ferry-install agent", "--server https://10.0.0.100:6443", "--node-label zone=a",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(text[at:], want)
		if i < 0 {
			t.Fatalf("the plan lacks %q after byte %d:\n%s", want, at, text)
		}
		at += i
	}
	if strings.Contains(text, "--token ") {
		t.Errorf("a command line carries the token:\n%s", text)
	}
	for _, p := range []string{"plant-7.token", "cluster.yaml.logs"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("a dry run wrote %s", p)
		}
	}
}

// TestDryRunUpgradeAndUninstall checks the order the plans of upgrade
// (servers one at a time, then agents, every node Ready before each) and
// uninstall (agents, then servers in reverse) print, contacting no host.
func TestDryRunUpgradeAndUninstall(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "cluster.yaml", `apiVersion: ferry.k3s.io/v1
kind: Cluster
bundle: edge-1.4.0.ferry
key: ferry.pub
ssh: {port: 1}
servers: [{address: 10.0.0.10, name: srv-1}, {address: 10.0.0.11, name: srv-2}]
agents: [{address: 10.0.0.20, name: agt-1}, {address: 10.0.0.21, name: agt-2}]
`)
	c, err := LoadCluster(p)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		run   func(context.Context, Options) (*Result, error)
		order []string
	}{
		{"upgrade", Upgrade, []string{"verify the new bundle", "every node Ready before srv-1", "[srv-1] upgrade server",
			"ferry-install upgrade --bundle /var/lib/ferry-deploy/edge-1.5.0.ferry", "every node Ready before srv-2", "[srv-2] upgrade server",
			"every node Ready before agt-1, agt-2", "upgrade agents 1 to 2 together", "[agt-1] upgrade agent", "[agt-2] upgrade agent"}},
		{"uninstall", Uninstall, []string{"uninstall the agents", "[agt-1] uninstall", "[agt-2] uninstall",
			"[srv-2] uninstall", "[srv-1] uninstall", "rm -rf /var/lib/ferry-deploy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if _, err := tt.run(context.Background(), Options{Cluster: c, Bundle: filepath.Join(dir, "edge-1.5.0.ferry"), DryRun: true, DryRunOutput: &out}); err != nil {
				t.Fatal(err)
			}
			text, at := out.String(), 0
			for _, want := range tt.order {
				i := strings.Index(text[at:], want)
				if i < 0 {
					t.Fatalf("the plan lacks %q after byte %d:\n%s", want, at, text)
				}
				at += i
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster.yaml.logs")); !os.IsNotExist(err) {
		t.Error("a dry run wrote logs")
	}
}

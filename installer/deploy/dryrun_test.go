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

package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodCluster = `apiVersion: ferry.k3s.io/v1
kind: Cluster
metadata: {name: plant-7}
bundle: factory-edge-1.4.0.ferry
key: ferry.pub
ssh:
  user: ops
  port: 2222
  identityFile: id_ed25519
  knownHosts: known_hosts
  jumpHost: ops@bastion.site:22
token: {file: plant-7.token}
apiEndpoint: 10.0.0.100
servers:
  - {address: 10.0.0.10, name: srv-1}
  - {address: 10.0.0.11, ssh: {port: 22}}
agents:
  - {address: 10.0.0.20, labels: [zone=a], taints: ["dedicated=edge:NoSchedule"]}
serverArgs: {tls-san: [10.0.0.100]}
set: {nfs.nfs.server: 10.0.0.5}
values: {longhorn: longhorn.yaml}
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCluster(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadCluster(writeFile(t, dir, "cluster.yaml", goodCluster))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 2 || len(c.Agents) != 1 || c.Servers[0].ID() != "srv-1" || c.Servers[1].ID() != "10.0.0.11" {
		t.Fatalf("hosts: %+v %+v", c.Servers, c.Agents)
	}
	hs, err := c.hosts()
	if err != nil {
		t.Fatal(err)
	}
	e := hs[1].Endpoint
	if e.User != "ops" || e.Port != 22 || e.KnownHosts != filepath.Join(dir, "known_hosts") || e.IdentityFile != filepath.Join(dir, "id_ed25519") ||
		e.Jump == nil || e.Jump.addr() != "bastion.site:22" || e.Jump.User != "ops" {
		t.Errorf("endpoint of the second server: %+v jump %+v", e, e.Jump)
	}
	if hs[0].Endpoint.Port != 2222 || !hs[0].First || hs[1].First || hs[2].Role != "agent" {
		t.Errorf("hosts: %+v", hs)
	}
	if got := c.joinURL(); got != "https://10.0.0.100:6443" {
		t.Errorf("join URL %s", got)
	}
	if hs[0].WorkDir != DefaultWorkDir {
		t.Errorf("work dir %s", hs[0].WorkDir)
	}
}

func TestLoadClusterErrors(t *testing.T) {
	tests := []struct {
		name, change, with string
		want               string
	}{
		{"unknown field", "apiEndpoint: 10.0.0.100", "apiEndpont: 10.0.0.100", "line 13: field apiEndpont not found"},
		{"api version", "ferry.k3s.io/v1", "ferry.k3s.io/v2", "cluster.yaml:1: apiVersion: is \"ferry.k3s.io/v2\""},
		{"kind", "kind: Cluster", "kind: Bundle", "cluster.yaml:2: kind:"},
		{"no address", "{address: 10.0.0.11, ssh: {port: 22}}", "{ssh: {port: 22}}", "cluster.yaml:16: servers[1].address: is required"},
		{"bad address", "10.0.0.20,", "'-oProxyCommand=x',", "agents[0].address: \"-oProxyCommand=x\" is not a host name"},
		{"duplicate", "{address: 10.0.0.11, ssh: {port: 22}}", "{address: 10.0.0.10, name: srv-1}", "servers[1]: \"srv-1\" is also servers[0]"},
		{"bad port", "port: 2222", "port: 70000", "cluster.yaml:8: ssh.port: 70000 is not a TCP port"},
		{"bad label", "[zone=a]", "[zone]", "cluster.yaml:18: agents[0].labels[0]: \"zone\": write key=value"},
		{"bad taint", "dedicated=edge:NoSchedule", "dedicated=edge", "agents[0].taints[0]"},
		{"bad jump", "ops@bastion.site:22", "ops@bastion.site:x", "ssh.jumpHost"},
		{"bad set", "nfs.nfs.server", "nfs", "set: \"nfs\": write CHART.KEY"},
		{"no servers", "  - {address: 10.0.0.10, name: srv-1}\n  - {address: 10.0.0.11, ssh: {port: 22}}\n", "", "servers: name at least one server"},
		{"bad root", "name: srv-1}", "name: srv-1, root: relative}", "servers[0].root"},
		{"bad name", "name: srv-1", "name: 'srv 1'", "servers[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := strings.Replace(goodCluster, tt.change, tt.with, 1)
			if content == goodCluster {
				t.Fatalf("the change %q is not in the file", tt.change)
			}
			_, err := LoadCluster(writeFile(t, t.TempDir(), "cluster.yaml", content))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadClusterBounded(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "big.yaml", goodCluster+"#"+strings.Repeat("x", MaxClusterFileSize)+"\n")
	if _, err := LoadCluster(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadCluster(writeFile(t, dir, "empty.yaml", "")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err = %v", err)
	}
}

const inventory = `---
k3s_cluster:
  children:
    server:
      hosts:
        192.16.35.11:
        srv-b:
          ansible_host: 192.16.35.12
          ansible_port: 2200
    agent:
      hosts:
        192.16.35.20:
          ansible_user: pi
          ansible_ssh_private_key_file: ~/.ssh/pi
  vars:
    ansible_port: 22
    ansible_user: debian
    k3s_version: v1.30.2+k3s1
    token: "changeme!"
    api_endpoint: "{{ hostvars[groups['server'][0]]['ansible_host'] | default(groups['server'][0]) }}"
    extra_server_args: ""
`

func TestLoadInventory(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadInventory(writeFile(t, dir, "inventory.yml", inventory))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := c.hosts()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 {
		t.Fatalf("%d hosts", len(hs))
	}
	want := []struct {
		id, addr, user string
		port           int
		first          bool
	}{
		{"192.16.35.11", "192.16.35.11", "debian", 22, true},
		{"srv-b", "192.16.35.12", "debian", 2200, false},
		{"192.16.35.20", "192.16.35.20", "pi", 22, false},
	}
	for i, w := range want {
		h := hs[i]
		if h.ID != w.id || h.Endpoint.Host != w.addr || h.Endpoint.User != w.user || h.Endpoint.Port != w.port || h.First != w.first {
			t.Errorf("host %d: %s %+v, want %+v", i, h.ID, h.Endpoint, w)
		}
	}
	if hs[2].Endpoint.IdentityFile == "" || !strings.HasSuffix(hs[2].Endpoint.IdentityFile, ".ssh/pi") {
		t.Errorf("identity file %q", hs[2].Endpoint.IdentityFile)
	}
	if tok, _, err := c.LoadToken(false); err != nil || tok != "changeme!" {
		t.Errorf("token %q %v", tok, err)
	}
	if c.APIEndpoint != "" {
		t.Errorf("a Jinja api_endpoint must be ignored, got %q", c.APIEndpoint)
	}
	bad := strings.Replace(inventory, `"changeme!"`, `"{{ vault_token }}"`, 1)
	if _, err := LoadInventory(writeFile(t, dir, "bad.yml", bad)); err == nil || !strings.Contains(err.Error(), "Jinja") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadCluster(writeFile(t, dir, "cluster.yaml", goodCluster))
	if err != nil {
		t.Fatal(err)
	}
	if tok, created, err := c.LoadToken(false); err != nil || tok != "" || !created {
		t.Fatalf("dry run: %q %v %v", tok, created, err)
	}
	if _, err := os.Stat(c.TokenFile()); !os.IsNotExist(err) {
		t.Fatalf("a dry run created the token file: %v", err)
	}
	tok, created, err := c.LoadToken(true)
	if err != nil || !created || len(tok) != 64 {
		t.Fatalf("create: %q %v %v", tok, created, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "plant-7.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	again, created, err := c.LoadToken(true)
	if err != nil || created || again != tok {
		t.Fatalf("reread: %q %v %v", again, created, err)
	}
	os.Chmod(c.TokenFile(), 0o644)
	if _, _, err := c.LoadToken(true); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable token file: %v", err)
	}
}

package manifests

import (
	"strings"
	"testing"
)

func TestNodeValidate(t *testing.T) {
	join := "https://192.0.2.10:6443"
	tests := []struct {
		name    string
		node    Node
		wantErr string // empty: valid
	}{
		{"single server", Node{Role: RoleServer}, ""},
		{"agent", Node{Role: RoleAgent, Server: join, Token: "t"}, ""},
		{"no role", Node{}, "role is empty"},
		{"bad role", Node{Role: "master"}, `"master" is unknown`},
		{"agent without server", Node{Role: RoleAgent, Token: "t"}, "agent needs a server URL"},
		{"join without token", Node{Role: RoleServer, Server: join}, "needs a token"},
		{"http server", Node{Role: RoleServer, Server: "http://192.0.2.10:6443", Token: "t"}, "https://ADDR:6443"},
		{"agent cluster-init", Node{Role: RoleAgent, Server: join, Token: "t", ClusterInit: true}, "servers only"},
		{"agent datastore", Node{Role: RoleAgent, Server: join, Token: "t", DatastoreEndpoint: "mysql://"}, "servers only"},
		{"cluster-init and join", Node{Role: RoleServer, ClusterInit: true, Server: join, Token: "t"}, "one or the other"},
		{"cluster-init and datastore", Node{Role: RoleServer, ClusterInit: true, DatastoreEndpoint: "mysql://"}, "one or the other"},
		{"bad label", Node{Role: RoleServer, NodeLabels: []string{"nolabel"}}, "key=value"},
		{"bad taint", Node{Role: RoleServer, NodeTaints: []string{"k=v"}}, "key=value:Effect"},
		{"bad taint effect", Node{Role: RoleServer, NodeTaints: []string{"k=v:Sometimes"}}, "NoSchedule"},
		{"relative data dir", Node{Role: RoleServer, DataDir: "k3s"}, "absolute"},
		{"bad mirror", Node{Role: RoleServer, RegistryMirrors: []string{"a b"}}, "registry mirror"},
		{"token with newline", Node{Role: RoleServer, Token: "a\nb"}, "line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.node.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNodePaths(t *testing.T) {
	tests := []struct {
		node                                  Node
		service, unit, env, openrc, uninstall string
	}{
		{Node{Role: RoleServer}, "k3s", "/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s.service.env", "/etc/init.d/k3s", "/usr/local/bin/k3s-uninstall.sh"},
		{Node{Role: RoleAgent}, "k3s-agent", "/etc/systemd/system/k3s-agent.service", "/etc/systemd/system/k3s-agent.service.env", "/etc/init.d/k3s-agent", "/usr/local/bin/k3s-agent-uninstall.sh"},
	}
	for _, tt := range tests {
		t.Run(string(tt.node.Role), func(t *testing.T) {
			got := []string{tt.node.ServiceName(), tt.node.UnitPath(), tt.node.EnvPath(), tt.node.OpenRCPath(), tt.node.UninstallPath()}
			want := []string{tt.service, tt.unit, tt.env, tt.openrc, tt.uninstall}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("path %d = %q, want %q", i, got[i], want[i])
				}
			}
		})
	}
}

package manifests

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// testdataFlags reads the repository's flag list for role.
func testdataFlags(t *testing.T, role Role) (map[string]bool, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "k3s-flags", string(role)+"-"+K3sFlagsVersion+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	return ParseFlagList(b), b
}

// TestFlagLists checks that the embedded lists are the repository's lists,
// that they name their k3s version, and that they hold the flags Ferry
// writes or documents.
func TestFlagLists(t *testing.T) {
	common := []string{"token", "server", "data-dir", "node-label", "node-taint", "selinux", "node-ip", "node-external-ip", "kubelet-arg", "kube-proxy-arg", "private-registry", "token-file"}
	serverOnly := []string{"write-kubeconfig-mode", "tls-san", "cluster-init", "datastore-endpoint", "disable", "cluster-cidr", "service-cidr", "cluster-dns", "flannel-backend", "embedded-registry", "secrets-encryption", "kube-apiserver-arg", "etcd-arg", "agent-token", "system-default-registry"}
	tests := []struct {
		role   Role
		want   []string
		absent []string
	}{
		{RoleServer, append(common, serverOnly...), nil},
		{RoleAgent, common, serverOnly},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			set, raw := testdataFlags(t, tt.role)
			embedded, err := flagFiles.ReadFile("k3sflags/" + string(tt.role) + "-" + K3sFlagsVersion + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(embedded, raw) {
				t.Errorf("manifests/k3sflags copy differs from testdata/k3s-flags: copy the testdata list over it")
			}
			first, _, _ := strings.Cut(string(raw), "\n")
			if !strings.HasPrefix(first, "# k3s "+K3sFlagsVersion) {
				t.Errorf("first line %q does not name the k3s version", first)
			}
			for _, f := range tt.want {
				if !set[f] {
					t.Errorf("flag %q missing from the %s list", f, tt.role)
				}
			}
			for _, f := range tt.absent {
				if set[f] {
					t.Errorf("server-only flag %q is in the %s list", f, tt.role)
				}
			}
			for f := range set {
				if strings.HasPrefix(f, "-") || strings.ContainsAny(f, " =,") {
					t.Errorf("entry %q is not a bare long flag name", f)
				}
			}
		})
	}
}

// TestGeneratedKeysAreFlags asserts that every config.yaml key of every
// golden case is a k3s flag of the case's role.
func TestGeneratedKeysAreFlags(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			set, _ := testdataFlags(t, c.node.Role)
			b, err := tm.Config(c.node)
			if err != nil {
				t.Fatal(err)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if len(cfg) == 0 {
				t.Fatal("config.yaml is empty")
			}
			for k := range cfg {
				if !set[k] {
					t.Errorf("config.yaml key %q is not a k3s %s flag", k, c.node.Role)
				}
			}
		})
	}
}

// TestConfigRefuses checks the errors of Config for keys k3s would reject
// and for secrets.
func TestConfigRefuses(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	agent := Node{Role: RoleAgent, Server: "https://192.0.2.10:6443", Token: "t"}
	withExtra := func(n Node, extra map[string]any) Node { n.Extra = extra; return n }
	tests := []struct {
		name    string
		node    Node
		wantErr []string
	}{
		{"unknown key", withExtra(Node{Role: RoleServer}, map[string]any{"clustr-cidr": "10.0.0.0/16"}), []string{`"clustr-cidr"`, "not a k3s"}},
		{"server flag on agent", withExtra(agent, map[string]any{"cluster-cidr": "10.0.0.0/16"}), []string{`"cluster-cidr"`, "agent flag"}},
		{"tls-san on agent", func() Node { n := agent; n.TLSSANs = []string{"a.example"}; return n }(), []string{"tls-san", "servers only"}},
		{"token in extra", withExtra(Node{Role: RoleServer}, map[string]any{"token": "x"}), []string{`"token"`, "secret"}},
		{"datastore in extra", withExtra(Node{Role: RoleServer}, map[string]any{"datastore-endpoint": "mysql://"}), []string{`"datastore-endpoint"`, "secret"}},
		{"agent-token in extra", withExtra(Node{Role: RoleServer}, map[string]any{"agent-token": "x"}), []string{`"agent-token"`, "secret"}},
		{"unknown append key", withExtra(Node{Role: RoleServer}, map[string]any{"nod-label+": []any{"a=b"}}), []string{`"nod-label+"`, "not a k3s"}},
		{"secret append key", withExtra(Node{Role: RoleServer}, map[string]any{"token+": "x"}), []string{`"token"`, "secret"}},
		{"config in extra", withExtra(Node{Role: RoleServer}, map[string]any{"config": "/x.yaml"}), []string{`"config"`}},
		{"data-dir", withExtra(Node{Role: RoleServer}, map[string]any{"data-dir": "/srv/k3s"}), []string{`"data-dir"`, "sets itself"}},
		{"server beside cluster-init", withExtra(Node{Role: RoleServer, ClusterInit: true}, map[string]any{"server": "https://10.0.0.1:6443"}), []string{`"server"`, "--join"}},
		{"cluster-init on an agent", withExtra(Node{Role: RoleAgent, Server: "https://10.0.0.1:6443", Token: "t"}, map[string]any{"cluster-init": true}), []string{`"cluster-init"`, "servers only"}},
		{"owned append key", withExtra(Node{Role: RoleServer}, map[string]any{"node-label+": []any{"a=b"}}), []string{`"node-label+"`, "--node-label"}},
		{"kubeconfig mode", withExtra(Node{Role: RoleServer}, map[string]any{"write-kubeconfig-mode": "0644"}), []string{`"write-kubeconfig-mode"`, "0600"}},
		{"private registry", withExtra(Node{Role: RoleServer}, map[string]any{"private-registry": "/x"}), []string{"--registry-mirror"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tm.Config(tt.node)
			if err == nil {
				t.Fatalf("Config succeeded:\n%s", b)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestExtraOverridesTemplate checks that Extra is merged last.
func TestExtraOverridesTemplate(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tm.Config(Node{Role: RoleServer, SELinux: true, Extra: map[string]any{"selinux": false, "kubelet-arg+": []any{"max-pods=50"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "kubelet-arg+:\n- max-pods=50") {
		t.Errorf("append key was not kept:\n%s", b)
	}
	if !strings.Contains(string(b), "selinux: false") {
		t.Errorf("extra did not override the template:\n%s", b)
	}
}

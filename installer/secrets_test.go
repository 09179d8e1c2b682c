package installer

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/manifests"
)

// TestSecretsOnlyInPrivateFiles installs a server whose datastore URI
// holds a password twice (user:password and a query parameter), whose
// registry mirror URL holds user:password, and whose token is given: no
// file readable by others (state.json, units, scripts, charts) holds any
// of them; registries.yaml holds the mirror's password in its configs
// section and is 0600.
func TestSecretsOnlyInPrivateFiles(t *testing.T) {
	secrets := []string{"PW-user-info", "PW-query", "PW-mirror", "TOKEN-given"}
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	_, err := installInto(t, root, bp, func(o *InstallOptions) {
		o.Node = manifests.Node{Role: manifests.RoleServer, Token: "TOKEN-given",
			DatastoreEndpoint: "postgres://k3s:PW-user-info@db.site:5432/k3s?sslmode=disable&password=PW-query",
			RegistryMirrors:   []string{"https://ops:PW-mirror@registry.site:5000"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, _ := d.Info()
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found[s] = true
				if fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s (mode %v) holds the secret %s", rel, fi.Mode().Perm(), s)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !found[s] {
			t.Errorf("secret %s is in no file: k3s could not use it", s)
		}
	}
	reg, err := os.ReadFile(filepath.Join(root, RegistryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reg), `- "https://registry.site:5000"`) || !strings.Contains(string(reg), "configs:") {
		t.Errorf("registries.yaml:\n%s", reg)
	}
	st, _ := os.ReadFile(filepath.Join(root, StateFile))
	for _, want := range []string{"postgres://k3s:xxxxx@db.site:5432/k3s?password=xxxxx", "https://ops:xxxxx@registry.site:5000"} {
		if !strings.Contains(string(st), want) {
			t.Errorf("state.json lacks the redacted %s:\n%s", want, st)
		}
	}
}

// TestSiteInputRefusedBeforeAnyChange: hostile list flags and a server URL
// with credentials are refused with a one-line error, and the root stays
// as it was.
func TestSiteInputRefusedBeforeAnyChange(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	tests := []struct {
		name string
		node manifests.Node
		want string
	}{
		{"label newline", manifests.Node{Role: manifests.RoleServer, NodeLabels: []string{"zone=a\nnode-taint: [x]"}}, "line break"},
		{"taint", manifests.Node{Role: manifests.RoleServer, NodeTaints: []string{"k=v w:NoSchedule"}}, "node taint"},
		{"tls-san with a flag", manifests.Node{Role: manifests.RoleServer, TLSSANs: []string{"10.0.0.9 --token x"}}, "neither an IP address nor a DNS name"},
		{"server credentials", manifests.Node{Role: manifests.RoleAgent, Server: "https://u:PW@10.0.0.1:6443", Token: "t"}, "holds a user name or password"},
		{"data-dir in --config", manifests.Node{Role: manifests.RoleServer, Extra: map[string]any{"data-dir": "/srv"}}, `"data-dir"`},
		{"server beside cluster-init", manifests.Node{Role: manifests.RoleServer, ClusterInit: true, Extra: map[string]any{"server": "https://10.0.0.1:6443"}}, "--join"},
		{"cluster-init on an agent", manifests.Node{Role: manifests.RoleAgent, Server: "https://10.0.0.1:6443", Token: "t", Extra: map[string]any{"cluster-init": true}}, "servers only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			before := snapshot(t, root)
			_, err := installInto(t, root, bp, func(o *InstallOptions) { o.Node = tt.node })
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "PW") {
				t.Fatalf("install: %v, want a one-line refusal saying %q (no secret)", err, tt.want)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("the refused install changed the root:\n%s", d)
			}
		})
	}
}

// TestUpgradeCarriesPrivateRegistries: state.json holds the mirror URL
// redacted, so an upgrade keeps the installed registries.yaml (with the
// real password) rather than rendering one from the redacted record.
func TestUpgradeCarriesPrivateRegistries(t *testing.T) {
	root := t.TempDir()
	_, err := installInto(t, root, relA.write(t), func(o *InstallOptions) {
		o.Node.Token = "fixed-token"
		o.Node.RegistryMirrors = []string{"ops:PW-mirror@registry.site:5000"}
	})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(root, RegistryFile))
	h, _ := NewLocalHost(root)
	if _, err := upgradeWith(t, h, relB.write(t), nil); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(root, RegistryFile))
	if !bytes.Equal(before, after) || !bytes.Contains(after, []byte("PW-mirror")) {
		t.Errorf("registries.yaml after the upgrade:\n%s\nbefore:\n%s", after, before)
	}
	if fi, _ := os.Stat(filepath.Join(root, RegistryFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("registries.yaml mode %v, want 0600", fi.Mode().Perm())
	}
}

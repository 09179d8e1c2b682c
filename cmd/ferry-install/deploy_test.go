package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, "pass -f cluster.yaml or -i inventory.yml"},
		{[]string{"deploy", "-f", "a", "-i", "b"}, "not both"},
		{[]string{"deploy", "status", "-f", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{[]string{"server", "--token", "a", "--token-file", "b"}, "give the token once"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if _, err := runInstall(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

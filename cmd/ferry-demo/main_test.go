package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs the demo end to end and checks what it reports.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	dir := filepath.Join(t.TempDir(), "demo")
	if err := run(context.Background(), &out, dir, []string{"amd64"}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"verified: signature by sha256:", "detached .sig ok: true",
		"/usr/local/bin/k3s ", "/var/lib/rancher/k3s/server/manifests/ferry-chart-longhorn.yaml",
		"/etc/systemd/system/k3s-agent.service ", "ferry-install agent --server https://10.0.0.10:6443 --token ",
		"files left in the server root after uninstall: 0",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "root-agent", "var", "lib", "ferry", "state.json")); err != nil {
		t.Errorf("agent root has no state.json: %v", err)
	}
}

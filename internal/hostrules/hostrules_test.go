package hostrules

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCheckFilePath(t *testing.T) {
	tests := []struct {
		path string
		want string // "" when allowed
	}{
		{"/etc/selinux/k3s-selinux.rpm", ""},
		{"/opt/site/extra.tar", ""},
		{"/var/lib/rancher/k3s/agent/images/site-images.tar", ""},
		{"/var/lib/rancher/k3s/server/manifests/site-policy.yaml", ""},
		{"/etc/rancher/k3s/config.yaml.d/10-site.yaml", ""},
		{"/var/lib/ferry", "inside /var/lib/ferry, where Ferry keeps its own state"},
		{"/var/lib/ferry/state.json", "uninstall would fail"},
		{"/var/lib/ferry/backup/x", "inside /var/lib/ferry"},
		{"/proc/sys/kernel/x", "kernel file system"},
		{"/dev/sda", "kernel file system"},
		{"/etc/rancher/k3s/config.yaml", "a file Ferry generates"},
		{"/etc/rancher/k3s/registries.yaml", "a file Ferry generates"},
		{"/etc/systemd/system/k3s.service.env", "a file Ferry generates"},
		{"/etc/systemd/system/k3s-agent.service", "a file Ferry generates"},
		{"/etc/init.d/k3s", "a file Ferry generates"},
		{"/usr/local/bin/k3s", "a file Ferry generates"},
		{"/usr/local/bin/kubectl", "a file Ferry generates"},
		{"/usr/local/bin/k3s-agent-uninstall.sh", "a file Ferry generates"},
		{"/var/lib/rancher/k3s/agent/images/ferry-images-amd64.tar", "image archives"},
		{"/var/lib/rancher/k3s/agent/images/k3s-airgap-images-arm64.tar.zst", "image archives"},
		{"/var/lib/rancher/k3s/server/static/charts/mine-1.0.0.tgz", "add charts with charts:"},
		{"/var/lib/rancher/k3s/server/manifests/ferry-chart-longhorn.yaml", "without the ferry- prefix"},
		{"/etc/rancher/k3s", "a directory Ferry needs"},
		{"/etc", "a directory Ferry needs"},
		{"/usr/bin/k3s-helper", "outside the places ferry-install writes"},
		{"/root/.bashrc", "outside the places ferry-install writes"},
		{"/boot/vmlinuz", "outside the places ferry-install writes"},
		{"/opt/a\nb", "line break"},
		{"/usr/local/bin", "a directory Ferry needs"},
		{"/var/lib/rancher/k3s/agent", "a directory Ferry needs"},
		{"/", "the root directory"},
		{"/etc/../var/lib/ferry/x", "not a clean absolute path"},
		{"etc/x", "not a clean absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := CheckFilePath(tt.path)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckTemplates(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string // "" when accepted
	}{
		{"known override", fstest.MapFS{"config.yaml.tmpl": file("# site\n{{ json .Role }}\n")}, ""},
		{"empty directory", fstest.MapFS{}, ""},
		{"unknown name", fstest.MapFS{"config.yml.tmpl": file("x")}, `template override "config.yml.tmpl" is not a known template: rename it to one of config.yaml.tmpl`},
		{"bad syntax", fstest.MapFS{"k3s.service.tmpl": file("{{ if }}")}, "parse override template k3s.service.tmpl"},
		{"too large", fstest.MapFS{"openrc.tmpl": file(strings.Repeat("#", MaxTemplateSize+1))}, "openrc.tmpl is 1048577 bytes, more than the 1048576 a host accepts"},
		{"subdirectory", fstest.MapFS{"extra/config.yaml.tmpl": file("x")}, "extra is a directory: hosts read only the files at the top"},
		{"link", fstest.MapFS{"config.yaml.tmpl": &fstest.MapFile{Mode: 0o777 | fs.ModeSymlink}}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTemplates(tt.fsys)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

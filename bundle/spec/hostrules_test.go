package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedHostPaths: a files: entry that hosts would refuse, or that
// would land on something Ferry owns, is refused when the spec is parsed,
// naming the field path and line.
func TestRefusedHostPaths(t *testing.T) {
	tests := []struct {
		hostPath string
		want     string
	}{
		{"/var/lib/ferry/files/k3s-selinux.rpm", `inside /var/lib/ferry, where Ferry keeps its own state`},
		{"/var/lib/ferry/state.json", `uninstall would fail`},
		{"/etc/rancher/k3s/config.yaml", `a file Ferry generates on every host`},
		{"/etc/systemd/system/k3s.service.env", `a file Ferry generates on every host`},
		{"/usr/local/bin/kubectl", `a file Ferry generates on every host`},
		{"/var/lib/rancher/k3s/agent/images/ferry-images-amd64.tar", `where Ferry places the bundle's image archives`},
		{"/var/lib/rancher/k3s/server/static/charts/x-1.0.0.tgz", `add charts with charts: instead`},
		{"/var/lib/rancher/k3s/server/manifests/ferry-chart-x.yaml", `without the ferry- prefix`},
		{"/etc/rancher/k3s", `a directory Ferry needs on every host`},
		{"/proc/sys/vm/swappiness", `a kernel file system`},
	}
	for _, tt := range tests {
		t.Run(tt.hostPath, func(t *testing.T) {
			src := head + "files:\n  - {source: ./a.rpm, sha256: " + sum + ", hostPath: " + tt.hostPath + "}\n"
			_, err := Parse("ferry.yaml", []byte(src))
			if err == nil {
				t.Fatal("spec accepted")
			}
			prefix := `ferry.yaml:7: files[0].hostPath: "` + tt.hostPath + `" `
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q...%q", err, prefix, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path != "files[0].hostPath" {
				t.Fatalf("error %v is not a FieldError at files[0].hostPath", err)
			}
		})
	}
}

// TestRefusedTemplates: template overrides that hosts would refuse or
// silently ignore are refused when the spec is loaded, naming the
// templates field and its line.
func TestRefusedTemplates(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative path -> content; "" path suffix "/" makes a dir
		link  string            // a symlink named this, pointing at a file outside
		want  string
	}{
		{name: "unknown name", files: map[string]string{"config.yml.tmpl": "x"},
			want: `template override "config.yml.tmpl" is not a known template: rename it to one of config.yaml.tmpl`},
		{name: "too large", files: map[string]string{"k3s.service.tmpl": strings.Repeat("#", 1<<20+1)},
			want: "k3s.service.tmpl is 1048577 bytes, more than the 1048576 a host accepts: shorten it"},
		{name: "bad syntax", files: map[string]string{"config.yaml.tmpl": "{{ range }}"},
			want: "parse override template config.yaml.tmpl:"},
		{name: "subdirectory", files: map[string]string{"site/config.yaml.tmpl": "x"},
			want: "site is a directory: hosts read only the files at the top of the templates directory"},
		{name: "link", link: "config.yaml.tmpl",
			want: "config.yaml.tmpl is not a regular file (links are not carried)"},
		{name: "missing directory",
			want: "read the directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tdir := filepath.Join(dir, "templates")
			if tt.name != "missing directory" {
				if err := os.Mkdir(tdir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for rel, body := range tt.files {
				p := filepath.Join(tdir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tt.link != "" {
				target := filepath.Join(dir, "outside.tmpl")
				if err := os.WriteFile(target, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(target, filepath.Join(tdir, tt.link)); err != nil {
					t.Fatal(err)
				}
			}
			specPath := filepath.Join(dir, "ferry.yaml")
			if err := os.WriteFile(specPath, []byte(head+"templates: ./templates\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(specPath)
			if err == nil {
				t.Fatal("spec accepted")
			}
			prefix := specPath + ":6: templates: " + tdir + ": "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want %q...%q", err, prefix, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

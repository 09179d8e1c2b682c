package spec

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestLoadGoodSpecs(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/specs")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file  string
		check func(t *testing.T, s *Spec)
	}{
		{"minimal.yaml", func(t *testing.T, s *Spec) {
			want := &Spec{
				APIVersion:  APIVersion,
				Kind:        Kind,
				Metadata:    Metadata{Name: "minimal", Version: "0.1.0"},
				K3s:         K3s{Version: "v1.31.4+k3s1", Arch: []string{"amd64"}, Source: DefaultK3sSource},
				KubeVersion: "v1.31.4",
				Dir:         dir,
			}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("got  %+v\nwant %+v", s, want)
			}
		}},
		{"full.yaml", func(t *testing.T, s *Spec) {
			if s.Metadata.Expires == nil || s.Metadata.Expires.Format("2006-01-02") != "2027-06-30" {
				t.Errorf("expires = %v", s.Metadata.Expires)
			}
			if got := s.K3s.Arch; !reflect.DeepEqual(got, []string{"amd64", "arm64"}) {
				t.Errorf("arch = %v", got)
			}
			if len(s.Charts) != 2 {
				t.Fatalf("charts = %d, want 2", len(s.Charts))
			}
			lh, nfs := s.Charts[0], s.Charts[1]
			if lh.Name != "longhorn" || lh.Version != "1.7.2" || lh.Repo != "https://charts.longhorn.io" || lh.Namespace != "longhorn-system" || lh.ReleaseName != "longhorn" {
				t.Errorf("longhorn = %+v", lh)
			}
			ds, _ := lh.Values["defaultSettings"].(map[string]any)
			if n, ok := ds["defaultReplicaCount"].(int); !ok || n != 2 {
				t.Errorf("longhorn defaultReplicaCount = %#v, want int 2", ds["defaultReplicaCount"])
			}
			if nfs.ReleaseName != "nfs" || !reflect.DeepEqual(nfs.Required, []string{"nfs.server", "nfs.path"}) || nfs.Version != "4.0.18" {
				t.Errorf("nfs = %+v", nfs)
			}
			if s.Traefik.Values["ports"] == nil {
				t.Errorf("traefik values lost: %v", s.Traefik.Values)
			}
			if !reflect.DeepEqual(s.Images.Extra, []string{"docker.io/library/nginx:1.27", "docker.io/library/busybox:1.37"}) {
				t.Errorf("images.extra = %v", s.Images.Extra)
			}
			if len(s.Files) != 2 {
				t.Fatalf("files = %d", len(s.Files))
			}
			if f := s.Files[0]; f.Name != "k3s-selinux-1.6-1.el9.noarch.rpm" || f.Mode != "0644" || f.IsLocal() {
				t.Errorf("files[0] = %+v", f)
			}
			if f := s.Files[1]; f.Source != filepath.Join(dir, "certs/site-ca.crt") || f.Mode != DefaultFileMode || !f.IsLocal() {
				t.Errorf("files[1] = %+v", f)
			}
			if s.Templates != filepath.Join(dir, "templates") {
				t.Errorf("templates = %q", s.Templates)
			}
			if s.KubeVersion != "v1.31.4" {
				t.Errorf("kubeVersion = %q", s.KubeVersion)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

// TestParsedSpecStillValid checks that a parsed spec with defaults applied,
// written back as JSON, is itself valid against the schema: the Go types and
// the schema agree on every field name.
func TestParsedSpecStillValid(t *testing.T) {
	for _, file := range []string{"minimal.yaml", "full.yaml"} {
		t.Run(file, func(t *testing.T) {
			s, err := Load(filepath.Join("../../testdata/specs", file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse("roundtrip.json", b)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, b)
			}
			again.Dir = s.Dir
			if !reflect.DeepEqual(normalise(t, again), normalise(t, s)) {
				t.Errorf("JSON round trip changed the spec:\n%+v\n%+v", again, s)
			}
			y, err := yaml.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			again, err = Parse("roundtrip.yaml", y)
			if err != nil {
				t.Fatalf("re-parse YAML: %v\n%s", err, y)
			}
			again.Dir = s.Dir
			if !reflect.DeepEqual(normalise(t, again), normalise(t, s)) {
				t.Errorf("YAML round trip changed the spec:\n%+v\n%+v", again, s)
			}
		})
	}
}

// normalise re-encodes a spec as JSON so that int and float64 values compare
// equal.
func normalise(t *testing.T, s *Spec) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseKeepsPathsAndResolvesInLoad(t *testing.T) {
	src := strings.Join([]string{
		"apiVersion: ferry.k3s.io/v1",
		"kind: Bundle",
		"metadata: {name: local, version: 1.0.0}",
		"k3s: {version: v1.30.8+k3s1, source: 'file:///srv/k3s/'}",
		"kubeVersion: 1.30.0",
		"charts:",
		"  - {name: app, repo: ./charts/app, version: 0.3.0, keyring: keys/pub.gpg}",
		"  - {name: web, repo: oci://registry.example/charts, version: 2.0.0}",
		"files:",
		"  - {source: 'https://example.com/dl/tool.tgz?x=1', sha256: " + strings.Repeat("a", 64) + ", hostPath: /opt/tool.tgz, mode: '755'}",
	}, "\n")
	s, err := Parse("local.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != "" || s.Charts[0].Repo != "./charts/app" || !s.Charts[0].IsLocal() {
		t.Errorf("Parse changed paths: dir %q repo %q", s.Dir, s.Charts[0].Repo)
	}
	if s.K3s.Source != "file:///srv/k3s" || s.KubeVersion != "v1.30.0" {
		t.Errorf("source %q kubeVersion %q", s.K3s.Source, s.KubeVersion)
	}
	if !s.Charts[1].IsOCI() || s.Charts[1].IsLocal() || s.Charts[1].Namespace != DefaultNamespace {
		t.Errorf("charts[1] = %+v", s.Charts[1])
	}
	if f := s.Files[0]; f.Name != "tool.tgz" {
		t.Errorf("files[0].name = %q, want tool.tgz", f.Name)
	}
	if p, err := s.Files[0].Perm(); err != nil || p != 0o755 {
		t.Errorf("perm = %v, %v", p, err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir != dir || s.Charts[0].Repo != filepath.Join(dir, "charts/app") || s.Charts[0].Keyring != filepath.Join(dir, "keys/pub.gpg") {
		t.Errorf("Load did not resolve: dir %q repo %q keyring %q", s.Dir, s.Charts[0].Repo, s.Charts[0].Keyring)
	}
	if s.Charts[1].Repo != "oci://registry.example/charts" {
		t.Errorf("Load changed a URL: %q", s.Charts[1].Repo)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "ferry.yaml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "ferry.yaml") {
		t.Errorf("error = %v, want one naming the file and matching fs.ErrNotExist", err)
	}
}

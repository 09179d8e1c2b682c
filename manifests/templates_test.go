package manifests

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadOverrides(t *testing.T) {
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		wantErr string
		check   func(t *testing.T, tm *Templates)
	}{
		{
			name: "override replaces one template",
			fsys: fstest.MapFS{
				ConfigTemplate:   {Data: []byte("write-kubeconfig-mode: \"0644\"\n{{ if .ClusterInit }}cluster-init: true{{ end }}\n")},
				"subdir/ignored": {Data: []byte("x")},
			},
			check: func(t *testing.T, tm *Templates) {
				b, err := tm.Config(Node{Role: RoleServer, ClusterInit: true})
				if err != nil {
					t.Fatal(err)
				}
				if want := "cluster-init: true\nwrite-kubeconfig-mode: \"0644\"\n"; string(b) != want {
					t.Errorf("config = %q, want %q", b, want)
				}
				// Other templates keep their defaults.
				_, unit, err := tm.Unit(Node{Role: RoleServer})
				if err != nil || !bytes.Contains(unit, []byte("Type=notify")) {
					t.Errorf("default unit template lost: %v\n%s", err, unit)
				}
			},
		},
		{
			name: "empty overrides",
			fsys: fstest.MapFS{},
			check: func(t *testing.T, tm *Templates) {
				b, err := tm.Config(Node{Role: RoleServer})
				if err != nil || string(b) != "write-kubeconfig-mode: \"0600\"\n" {
					t.Errorf("config = %q, %v", b, err)
				}
			},
		},
		{
			name:    "misspelt override",
			fsys:    fstest.MapFS{"config.yml.tmpl": {Data: []byte("")}},
			wantErr: `"config.yml.tmpl" is not a known template`,
		},
		{
			name:    "override does not parse",
			fsys:    fstest.MapFS{UnitTemplate: {Data: []byte("{{ .Nope ")}},
			wantErr: "parse override template " + UnitTemplate,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Load(tt.fsys)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, tm)
		})
	}
}

// TestOverrideErrors checks that bad override output fails rendering
// instead of producing a bad file.
func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    string
		text    string
		render  func(tm *Templates) error
		wantErr string
	}{
		{"unknown field", UnitTemplate, "{{ .Nope }}", func(tm *Templates) error { _, _, err := tm.Unit(Node{Role: RoleServer}); return err }, "Nope"},
		{"config not a mapping", ConfigTemplate, "- a\n- b\n", func(tm *Templates) error { _, err := tm.Config(Node{Role: RoleServer}); return err }, "not a YAML mapping"},
		{"config sets a secret", ConfigTemplate, "token: {{ json .Token }}\n", func(tm *Templates) error {
			_, err := tm.Config(Node{Role: RoleServer, Token: "x"})
			return err
		}, `template config.yaml.tmpl sets "token"`},
		{"config sets an unknown key", ConfigTemplate, "no-such-flag: 1\n", func(tm *Templates) error { _, err := tm.Config(Node{Role: RoleServer}); return err }, `"no-such-flag"`},
		{"registries not YAML", RegistriesTemplate, "mirrors: [\n", func(tm *Templates) error {
			_, _, err := tm.Registries(Node{Role: RoleServer, RegistryMirrors: []string{"r.example"}})
			return err
		}, "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Load(fstest.MapFS{tt.tmpl: {Data: []byte(tt.text)}})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.render(tm)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRegistries(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, ok, err := tm.Registries(Node{Role: RoleServer})
	if err != nil || ok || b != nil {
		t.Errorf("no mirrors: got %q, %v, %v; want nothing", b, ok, err)
	}
	if _, _, err := tm.Registries(Node{Role: RoleServer, RegistryMirrors: []string{"ftp://r.example"}}); err == nil {
		t.Error("an ftp:// mirror was accepted")
	}
}

// TestNoForbiddenDeps asserts that the package links no Helm, client-go or
// registry client code (it is part of the static installer).
func TestNoForbiddenDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped under -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "helm.sh/"), strings.HasPrefix(dep, "k8s.io/client-go"):
			t.Errorf("manifests links %s", dep)
		// pkg/name (reference parsing, no network) arrives through
		// bundle -> signing -> sigstore's payload package; any other
		// go-containerregistry package would be the registry client.
		case strings.HasPrefix(dep, "github.com/google/go-containerregistry/") && dep != "github.com/google/go-containerregistry/pkg/name":
			t.Errorf("manifests links %s", dep)
		}
	}
}

package manifests

import (
	"strings"
	"testing"
)

func TestSiteInput(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) error
		in    string
		want  string // "" accepts
	}{
		{"label", CheckLabel, "zone=a", ""},
		{"label prefixed", CheckLabel, "topology.kubernetes.io/zone=eu-1", ""},
		{"label empty value", CheckLabel, "edge=", ""},
		{"label newline", CheckLabel, "zone=a\nnode-taint: x", "line break"},
		{"label no value", CheckLabel, "zone", "key=value"},
		{"label space", CheckLabel, "zone=a b", "value"},
		{"label bad key", CheckLabel, "-zone=a", "key name"},
		{"label long value", CheckLabel, "zone=" + strings.Repeat("a", 64), "value"},
		{"label bad prefix", CheckLabel, "Bad_Prefix/zone=a", "prefix"},
		{"taint", CheckTaint, "dedicated=edge:NoSchedule", ""},
		{"taint no value", CheckTaint, "dedicated:NoExecute", ""},
		{"taint effect", CheckTaint, "k=v:Sometimes", "NoSchedule"},
		{"taint newline", CheckTaint, "k=v:NoSchedule\n", "line break"},
		{"taint bad value", CheckTaint, "k=v w:NoSchedule", "value"},
		{"san ip", CheckSAN, "10.0.0.9", ""},
		{"san ipv6", CheckSAN, "fd00::1", ""},
		{"san dns", CheckSAN, "k3s.plant-7.example", ""},
		{"san wildcard", CheckSAN, "*.plant-7.example", ""},
		{"san with flag", CheckSAN, "10.0.0.9 --token x", "neither an IP"},
		{"san newline", CheckSAN, "10.0.0.9\n10.0.0.10", "line break"},
		{"san quote", CheckSAN, "a'b", "neither an IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.check(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%q refused: %v", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: %v, want a one-line refusal saying %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://k3s:s3cret@db:5432/k3s?sslmode=disable":      "postgres://k3s:xxxxx@db:5432/k3s?sslmode=disable",
		"postgres://db:5432/k3s?password=s3cret&sslmode=disable": "postgres://db:5432/k3s?password=xxxxx&sslmode=disable",
		"mysql://k3s:s3cret@tcp(db:3306)/k3s":                    "(redacted)",
		"https://ops:s3cret@registry.site:5000":                  "https://ops:xxxxx@registry.site:5000",
		"ops:s3cret@registry.site:5000":                          "ops:xxxxx@registry.site:5000",
		"registry.site:5000":                                     "registry.site:5000",
		"https://10.0.0.1:6443":                                  "https://10.0.0.1:6443",
		"https://etcd-1:2379,https://etcd-2:2379":                "https://etcd-1:2379,https://etcd-2:2379",
	} {
		if got := Redact(in); got != want || strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMirrorCredentialsGoToConfigs(t *testing.T) {
	tmpl, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, ok, err := tmpl.Registries(Node{Role: RoleAgent, Server: "https://10.0.0.1:6443", Token: "t", RegistryMirrors: []string{"https://ops:s3cret@registry.site:5000"}})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	out := string(b)
	if !strings.Contains(out, `- "https://registry.site:5000"`) || !strings.Contains(out, `password: "s3cret"`) || strings.Contains(out, "ops:s3cret@") {
		t.Errorf("registries.yaml:\n%s", out)
	}
	if !MirrorHasCredentials("ops:pw@registry.site") || MirrorHasCredentials("registry.site") {
		t.Error("MirrorHasCredentials")
	}
}

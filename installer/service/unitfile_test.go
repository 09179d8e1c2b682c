package service

import (
	"slices"
	"strings"
	"testing"
)

func TestParseUnit(t *testing.T) {
	tests := []struct {
		name     string
		unit     string
		argv     []string
		env      []string
		envFiles []envFile
		wantErr  string
	}{
		{name: "k3s install script shape", unit: k3sUnit, argv: []string{"/usr/local/bin/k3s", "server"},
			envFiles: []envFile{{"/etc/default/%N", true}, {"/etc/systemd/system/k3s.service.env", true}}},
		{name: "quotes and environment", unit: "[Service]\nEnvironment=A=1 \"B=two words\"\nExecStart=-/bin/k3s server --node-label \"a=b c\"\n",
			argv: []string{"/bin/k3s", "server", "--node-label", "a=b c"}, env: []string{"A=1", "B=two words"}},
		{name: "reset in drop-in", unit: "[Service]\nExecStart=/bin/old\nExecStart=\nExecStart=/bin/new x\n", argv: []string{"/bin/new", "x"}},
		{name: "other sections ignored", unit: "[Unit]\nExecStart=/bin/wrong\n[Service]\nExecStart=/bin/right\n", argv: []string{"/bin/right"}},
		{name: "no ExecStart", unit: "[Service]\nType=notify\n", wantErr: "no ExecStart"},
		{name: "unterminated quote", unit: "[Service]\nExecStart=/bin/k3s \"server\n", wantErr: "unterminated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := parseUnit([]byte(tt.unit))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(u.Argv, tt.argv) || !slices.Equal(u.Env, tt.env) || !slices.Equal(u.EnvFiles, tt.envFiles) {
				t.Errorf("got argv %q env %q files %v, want %q %q %v", u.Argv, u.Env, u.EnvFiles, tt.argv, tt.env, tt.envFiles)
			}
		})
	}
}

func TestParseEnvFile(t *testing.T) {
	got := parseEnvFile([]byte("# secrets\nK3S_TOKEN=\"abc\"\n\n; other comment\nK3S_URL='https://127.0.0.1:6443'\nPLAIN = x=y\nnot a pair\n"))
	want := []string{"K3S_TOKEN=abc", "K3S_URL=https://127.0.0.1:6443", "PLAIN=x=y"}
	if !slices.Equal(got, want) {
		t.Errorf("parseEnvFile = %q, want %q", got, want)
	}
}

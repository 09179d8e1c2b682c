package service

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInitOfAndDetectAgree: for each layout of an alternate root, the
// installer's answer (InitOf: which files to write) and Detect's (which
// manager to drive) name the same init system.
func TestInitOfAndDetectAgree(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string
	}{
		{"systemd in /lib", []string{"lib/systemd/systemd"}, InitSystemd},
		{"systemd in /usr/lib", []string{"usr/lib/systemd/systemd"}, InitSystemd},
		{"openrc in /sbin", []string{"sbin/openrc-run"}, InitOpenRC},
		{"openrc in /usr/sbin", []string{"usr/sbin/openrc-run"}, InitOpenRC},
		{"both: systemd wins", []string{"usr/lib/systemd/systemd", "sbin/openrc-run"}, InitSystemd},
		{"neither", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(root, f)
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got := InitOf(func(p string) bool { return existsInRoot(root, p) })
			if got != tt.want {
				t.Fatalf("InitOf = %q, want %q", got, tt.want)
			}
			m, err := Detect(root, WithGetenv(func(string) string { return "" }))
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("Detect found %s in an empty root", m.Name())
			case tt.want != "" && (err != nil || m.Name() != tt.want):
				t.Fatalf("Detect = %v, %v; want %s", m, err, tt.want)
			}
		})
	}
}

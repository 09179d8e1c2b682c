package preflight

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinksOutsideRootAreNotRead: files of an alternate root that link
// outside it (absolutely, or relatively with enough "..") are resolved
// inside the root, so the checks never read the machine's own files.
func TestLinksOutsideRootAreNotRead(t *testing.T) {
	for _, kind := range []string{"absolute", "relative"} {
		t.Run(kind, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "root")
			outside := filepath.Join(base, "outside")
			os.MkdirAll(filepath.Join(root, "etc"), 0o755)
			os.MkdirAll(outside, 0o755)
			os.WriteFile(filepath.Join(outside, "os-release"), []byte("ID=outside\nPRETTY_NAME=\"Outside Linux\"\n"), 0o644)
			os.WriteFile(filepath.Join(outside, "resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644)
			os.MkdirAll(filepath.Join(outside, "var/lib/ferry"), 0o755)
			os.WriteFile(filepath.Join(outside, "var/lib/ferry/state.json"), []byte("{}"), 0o644)
			target := func(name string) string {
				if kind == "absolute" {
					return filepath.Join(outside, name)
				}
				return filepath.Join("../..", "outside", name)
			}
			os.Symlink(target("os-release"), filepath.Join(root, "etc/os-release"))
			os.Symlink(target("resolv.conf"), filepath.Join(root, "etc/resolv.conf"))
			os.Symlink(target("var"), filepath.Join(root, "var"))
			r, err := Run(context.Background(), Options{Root: root, AlternateRoot: true, Role: RoleServer})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Checks {
				if strings.Contains(c.Detail, "Outside Linux") || strings.Contains(c.Detail, "192.0.2.53") ||
					(c.Name == "existing-k3s" && c.Status == StatusFail) {
					t.Errorf("check %s read a file outside the root: %s %s", c.Name, c.Status, c.Detail)
				}
			}
		})
	}
}

package preflight

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
)

// hostTree copies testdata/healthy into a temporary root and lays each of
// overlays (testdata/<case>) over it: its files replace the healthy ones and
// the paths listed in its .remove file are deleted.
func hostTree(t *testing.T, overlays ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range append([]string{"healthy"}, overlays...) {
		src := filepath.Join("testdata", dir)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(root, rel)
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o755)
			case rel == ".remove":
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				for _, l := range lines(b) {
					if err := os.Remove(filepath.Join(root, l)); err != nil {
						return err
					}
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, b, 0o644)
		})
		if err != nil {
			t.Fatalf("prepare host tree %s: %v", dir, err)
		}
	}
	return root
}

// testManifest is a small bundle carrying Longhorn; extra entries are
// added, in order, after the fixed ones.
func testManifest(extra ...bundle.Entry) *bundle.Manifest {
	m := &bundle.Manifest{
		Format: bundle.FormatVersion, Name: "factory-edge", Version: "1.4.0", K3sVersion: "v1.31.4+k3s1",
		Arches: []string{"amd64"},
		Entries: []bundle.Entry{
			{Path: "charts/longhorn-1.7.2.tgz", Size: 64 << 10, Role: bundle.RoleChart},
			{Path: "images/amd64/k3s-airgap-images.tar.zst", Size: 4 << 20, Role: bundle.RoleAirgapImages, Arch: "amd64"},
			{Path: "k3s/amd64/k3s", Size: 2 << 20, Role: bundle.RoleK3sBinary, Arch: "amd64"},
		},
		Charts: []bundle.Chart{{Name: "longhorn", Version: "1.7.2", Namespace: "longhorn-system", Path: "charts/longhorn-1.7.2.tgz"}},
	}
	m.Entries = append(m.Entries, extra...)
	return m
}

// selinuxManifest carries the k3s-selinux RPM.
func selinuxManifest() *bundle.Manifest {
	return testManifest(bundle.Entry{Path: "files/k3s-selinux-1.6-1.el9.noarch.rpm", Size: 20 << 10, Role: bundle.RoleFile,
		HostPath: "/var/lib/ferry/rpms/k3s-selinux-1.6-1.el9.noarch.rpm"})
}

func hasAll(s string, subs ...string) (string, bool) {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return sub, false
		}
	}
	return "", true
}

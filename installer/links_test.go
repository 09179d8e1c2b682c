package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/internal/treedigest"
)

// outsideTree fills dir with what a link followed out of the root would
// find under the names ferry uses: directories to write into, files to
// replace or delete.
func outsideTree(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"k3s/config.yaml", "config.yaml", "kubectl", "k3s.service", "state.json",
		"ferry-chart-nfs.yaml", "ferry-extra.conf", "x/y/z", "previous/old/file", "agent/images/a.tar", "server/manifests/m.yaml",
		"rancher/k3s/config.yaml", "system/k3s.service", "lib/ferry/state.json"} {
		writeFile(t, filepath.Join(dir, f), "outside "+f)
	}
}

// TestLinksOutsideRootChangeNothingOutside puts a link pointing outside
// the root at each level of the host layout, absolute or relative (then
// it escapes the root if followed lexically), and runs install, upgrade,
// rollback and uninstall on that root. Each may fail (a link leading
// nowhere inside the root) or work inside the root; the directory outside
// must be identical after each.
func TestLinksOutsideRootChangeNothingOutside(t *testing.T) {
	levels := []string{
		"/etc/rancher", ConfigDir, SystemdDir, "/etc",
		"/usr/local/bin", K3sBinary, "/usr/local",
		"/var/lib/ferry", PreviousDir, BackupDir,
		"/var/lib/rancher", ManifestsDir, ImagesDir, ChartsDir,
	}
	kinds := []string{"absolute", "relative"}
	if testing.Short() {
		levels = []string{"/etc/rancher", "/usr/local/bin", PreviousDir, ManifestsDir}
	}
	bpA, bpB := relA.write(t), relB.write(t)
	for _, level := range levels {
		for _, kind := range kinds {
			for _, inside := range []bool{false, true} {
				name := kind + strings.ReplaceAll(level, "/", "_") + map[bool]string{false: "-dangling", true: "-leads-inside"}[inside]
				t.Run(name, func(t *testing.T) { linkCycle(t, bpA, bpB, level, kind, inside) })
			}
		}
	}
}

// linkCycle is one case of TestLinksOutsideRootChangeNothingOutside. With
// inside, the directory the link leads to once resolved inside the root
// exists, so that every step works through the link and must succeed.
func linkCycle(t *testing.T, bpA, bpB, level, kind string, inside bool) {
	{
		{
			func() {
				base := t.TempDir()
				root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
				outsideTree(t, outside)
				seedForeign(t, root)
				link := filepath.Join(root, level)
				os.RemoveAll(link)
				if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
					t.Fatal(err)
				}
				target := outside
				if kind == "relative" {
					rel, err := filepath.Rel(filepath.Dir(link), outside)
					if err != nil {
						t.Fatal(err)
					}
					target = rel
				}
				if err := os.Symlink(target, link); err != nil {
					t.Fatal(err)
				}
				h, _ := NewLocalHost(root)
				if inside {
					hp, err := h.FS().Resolve(level)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(h.Local(hp), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				want := treedigest.Of(t, outside)
				check := func(step string, err error) {
					t.Helper()
					t.Logf("%s: %v", step, err)
					if got := treedigest.Of(t, outside); got != want {
						t.Fatalf("%s changed the directory outside the root (%v):\n%s\nwas:\n%s", step, err, got, want)
					}
					if inside && err != nil {
						t.Fatalf("%s through a link that leads to a directory inside the root: %v", step, err)
					}
				}
				_, err := installInto(t, root, bpA, func(o *InstallOptions) { o.Node.Token = "fixed-token" })
				check("install", err)
				_, err = upgradeWith(t, h, bpB, nil)
				check("upgrade", err)
				_, err = Rollback(context.Background(), RollbackOptions{RunOptions: RunOptions{Host: h}})
				check("rollback", err)
				_, err = Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: h}})
				check("uninstall", err)
			}()
		}
	}
}

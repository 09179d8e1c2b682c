package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// containerd is a private containerd daemon for one test: its root, state
// and sockets live under a test directory, and the CRI plugin is off.
type containerd struct {
	sock string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
]

[grpc]
  address = %[3]q

[ttrpc]
  address = "%[3]s.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
`

// startContainerd runs containerd until the test ends; it skips the test
// when containerd or ctr is missing or the test does not run as root.
func startContainerd(t *testing.T) *containerd {
	t.Helper()
	for _, bin := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install containerd): %v", bin, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root: run the integration tests as root")
	}
	dir := t.TempDir()
	c := &containerd{sock: filepath.Join(dir, "containerd.sock"), log: &bytes.Buffer{}}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.sock, filepath.Join(dir, "opt"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command("containerd", "--config", cfg, "--log-level", "warn")
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := exec.CommandContext(ctx, "ctr", "-a", c.sock, "version").Run()
		cancel()
		if err == nil {
			return c
		}
		select {
		case werr := <-exited:
			t.Fatalf("containerd exited: %v\n%s", werr, c.log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd socket %s not ready after 20s: %v\n%s", c.sock, err, c.log)
		}
	}
}

// ctr runs ctr against the daemon in the k8s.io namespace (where k3s keeps
// its images) and returns its output.
func (c *containerd) ctr(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"-a", c.sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr %s: %v\n%s\ncontainerd log:\n%s", strings.Join(args, " "), err, out, c.log)
	}
	return string(out)
}

// TestContainerdImportsArchive imports archives into a real containerd as
// k3s does (every platform, k8s.io namespace) and checks that every image
// keeps its name and its registry manifest digest and is complete.
func TestContainerdImportsArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a containerd daemon; runs without -short")
	}
	c := startContainerd(t)
	f := newFixture(t)
	ctx := context.Background()
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	tests := []struct {
		name   string
		arch   string
		args   []string
		unpack bool
	}{
		// The host's own arch is unpacked too, proving the layers are real.
		{name: "host arch", arch: runtime.GOARCH, args: []string{"--all-platforms", "--snapshotter", "native"}, unpack: true},
		{name: "foreign arch", arch: other, args: []string{"--all-platforms", "--no-unpack"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.arch != "amd64" && tt.arch != "arm64" {
				t.Skipf("fixture has no %s images", tt.arch)
			}
			refs := []string{f.reg.ref("app:1"), f.reg.ref("tool:2"), f.reg.ref("app@" + digestOf(t, f.idx["app:1"]))}
			if tt.arch == "amd64" {
				refs = append(refs, f.reg.ref("single:1"))
			}
			res, err := Resolve(ctx, refs, tt.arch, fastOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "ferry-images.tar")
			out, err := os.Create(archive)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WriteArchive(ctx, out, res, fastOpts()...); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}

			c.ctr(t, append(append([]string{"images", "import"}, tt.args...), archive)...)
			listed := c.ctr(t, "images", "ls")
			checked := c.ctr(t, "images", "check", "--snapshotter", "native")
			for _, r := range res {
				rr, err := parseRef(r.Ref)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range rr.names() {
					line := lineFor(listed, n)
					if line == "" {
						t.Errorf("%s not imported; images:\n%s", n, listed)
						continue
					}
					if !strings.Contains(line, r.Digest) || !strings.Contains(line, "linux/"+tt.arch) {
						t.Errorf("%s imported as %q, want digest %s for linux/%s", n, line, r.Digest, tt.arch)
					}
					cl := strings.Fields(lineFor(checked, n))
					if len(cl) < 4 || cl[3] != "complete" {
						t.Errorf("%s incomplete after import: %q", n, cl)
					}
					if tt.unpack && (len(cl) == 0 || cl[len(cl)-1] != "true") {
						t.Errorf("%s not unpacked: %q", n, cl)
					}
				}
			}
			// Leave the store clean for the next case.
			for _, r := range res {
				rr, _ := parseRef(r.Ref)
				c.ctr(t, append([]string{"images", "rm"}, rr.names()...)...)
			}
		})
	}
}

// lineFor finds the line of ctr's table output whose first column is ref.
func lineFor(out, ref string) string {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == ref {
			return l
		}
	}
	return ""
}

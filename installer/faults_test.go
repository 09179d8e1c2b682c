package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
)

// buildInstaller builds cmd/ferry-install (static, as shipped) into a
// temporary directory and returns its path.
func buildInstaller(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "ferry-install")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ferry-install")
	cmd.Dir, cmd.Env = filepath.Dir(filepath.Dir(file)), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build ferry-install: %v\n%s", err, out)
	}
	return bin
}

// pubKey is the path of the test verifier's public key.
func pubKey(t *testing.T) string {
	t.Helper()
	keys(t)
	return filepath.Join(testKeys.dir, "ferry.pub")
}

// bigPayload is the default payload with an image archive of n
// pseudo-random bytes, so that an install takes long enough to be killed
// in the middle of its work.
func bigPayload(n int) []testFile {
	files := testPayload()
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for i := range files {
		if files[i].entry.Role == bundle.RoleImages {
			files[i].data = data
		}
	}
	return files
}

// serverArgs are ferry-install's arguments for a --no-start server
// install of bundlePath into root.
func serverArgs(t *testing.T, root, bundlePath string) []string {
	return []string{"server", "--root", root, "--no-start", "--skip-preflight", "--token", "fixed-token",
		"--bundle", bundlePath, "--key", pubKey(t)}
}

// crashRuns is how many installs TestKill9AtRandomPoints kills: 50 in
// CI's long mode (FERRY_LONG=1), 8 otherwise.
func crashRuns() int {
	if os.Getenv("FERRY_LONG") != "" {
		return 50
	}
	return 8
}

// crashSeed is FERRY_SEED when set, else 1: the seed of the kill delays.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("FERRY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FERRY_SEED=%q: %v", s, err)
		}
		return n
	}
	return 1
}

// TestKill9AtRandomPoints is the black-box half of the crash tests (see
// TestKill9AtSeededOps for kills at exact operations): it runs the real ferry-install server --no-start as a
// child process and kills it with SIGKILL after a delay drawn from a seeded
// generator, somewhere between its start and the time a whole install takes.
// A rerun must then end in exactly the tree of a clean install, and
// uninstall in exactly the original tree: the host is only ever the old or
// the new state.
func TestKill9AtRandomPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real installs; skipped under -short")
	}
	bin := buildInstaller(t)
	bp := writeBundle(t, bundleOptions{files: bigPayload(16 << 20)})
	clean := t.TempDir()
	seedForeign(t, clean)
	original := snapshot(t, clean)
	os.RemoveAll(clean)
	// The delays span the fastest of two clean installs (the first one
	// also warms the page cache).
	var full time.Duration
	var want map[string]string
	for i := range 2 {
		root := t.TempDir()
		seedForeign(t, root)
		start := time.Now()
		if out, err := exec.Command(bin, serverArgs(t, root, bp)...).CombinedOutput(); err != nil {
			t.Fatalf("clean install: %v\n%s", err, out)
		}
		if d := time.Since(start); i == 0 || d < full {
			full = d
		}
		want = stable(snapshot(t, root))
	}
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	runs := crashRuns()
	var killed, finished, converged int
	where := map[string]int{}
	for i := range runs {
		delay := time.Duration(rng.Int64N(int64(full) * 4 / 5))
		t.Run(fmt.Sprintf("run%02d-%s", i, delay.Round(time.Millisecond)), func(t *testing.T) {
			root := t.TempDir()
			seedForeign(t, root)
			cmd := exec.Command(bin, serverArgs(t, root, bp)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			err := cmd.Wait()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
				killed++
				where[crashPoint(snapshot(t, root))]++
			} else {
				finished++
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, bin, serverArgs(t, root, bp)...).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "already installed") {
				t.Fatalf("rerun after a kill at %v: %v\n%s", delay, err, out)
			}
			if d := diffSnapshots(want, stable(snapshot(t, root))); d != "" {
				t.Fatalf("rerun after a kill at %v is not the new state:\n%s", delay, d)
			}
			out, err = exec.CommandContext(ctx, bin, "uninstall", "--root", root).CombinedOutput()
			if err != nil {
				t.Fatalf("uninstall: %v\n%s", err, out)
			}
			if d := diffSnapshots(original, snapshot(t, root)); d != "" {
				t.Fatalf("uninstall after a kill at %v is not the old state:\n%s", delay, d)
			}
			converged++
		})
	}
	t.Logf("seed %d: %d runs, %d killed mid-install %v, %d finished before the kill, %d converged (a full install takes %v)",
		seed, runs, killed, where, finished, converged, full.Round(time.Millisecond))
	if killed < runs/4 {
		t.Errorf("only %d of %d runs were killed before they finished: the delays do not reach into the install", killed, runs)
	}
}

// crashPoint says how far a killed install got, from the tree it left.
func crashPoint(snap map[string]string) string {
	point := "before staging"
	for p := range snap {
		switch {
		case p == "var/lib/ferry/state.json":
			return "after the commit"
		case strings.HasPrefix(p, "var/lib/ferry/staging-") && strings.HasSuffix(p, "/journal.json"):
			point = "while placing"
		case strings.HasPrefix(p, "var/lib/ferry/staging-") && point == "before staging":
			point = "while staging"
		}
	}
	return point
}

// failingReader returns the first n bytes of r, then err.
type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

// TestBundleReadErrorAtOffset installs from a medium that fails after K
// bytes: the error names the bundle stream and the exact offset, and the
// root is unchanged.
func TestBundleReadErrorAtOffset(t *testing.T) {
	bp := writeBundle(t, bundleOptions{files: bigPayload(1 << 20)})
	b, err := os.ReadFile(bp)
	if err != nil {
		t.Fatal(err)
	}
	eio := &os.PathError{Op: "read", Path: bp, Err: syscall.EIO} // what an *os.File on a failing medium returns
	for _, k := range []int64{0, 100, int64(len(b)) / 2, int64(len(b)) - 10} {
		t.Run(fmt.Sprintf("K=%d", k), func(t *testing.T) {
			root := t.TempDir()
			seedForeign(t, root)
			before := snapshot(t, root)
			_, err := installInto(t, root, bp, func(o *InstallOptions) {
				o.Bundle = &failingReader{r: bytes.NewReader(b), n: k, err: eio}
			})
			var se *bundle.StreamError
			if !errors.As(err, &se) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("error %v: want a *bundle.StreamError wrapping EIO", err)
			}
			if se.Offset != k {
				t.Errorf("error says byte %d, the medium failed at byte %d", se.Offset, k)
			}
			msg := err.Error()
			for _, want := range []string{fmt.Sprintf("read bundle at byte %d", k), bp, "copy it again"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("root changed:\n%s", d)
			}
		})
	}
}

// TestTruncatedBundleFileCLI gives the real ferry-install a bundle file cut
// short: it exits 3 and names the offset; the root is unchanged.
func TestTruncatedBundleFileCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-install; skipped under -short")
	}
	bin := buildInstaller(t)
	bp := writeBundle(t, bundleOptions{files: bigPayload(1 << 20)})
	b, _ := os.ReadFile(bp)
	cut := filepath.Join(t.TempDir(), "cut.ferry")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	seedForeign(t, root)
	before := snapshot(t, root)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, serverArgs(t, root, cut)...)
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "read bundle at byte") || !strings.Contains(stderr.String(), "unexpected EOF") {
		t.Errorf("stderr does not name the offset of the truncation: %s", stderr.String())
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("root changed:\n%s", d)
	}
}

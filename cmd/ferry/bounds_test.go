package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
	"github.com/ferry-k3s/ferry/internal/demo"
)

// signalBound is how long `ferry build` may take to exit after SIGINT or
// SIGTERM in these tests. The bound is 2 s; 5 s leaves room for a
// loaded 2-core machine, and no other timing is asserted.
const signalBound = 5 * time.Second

// buildFerry compiles this command into a temp directory.
func buildFerry(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the ferry binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/ferry: %v\n%s", err, out)
	}
	return bin
}

// hostileSpec writes a spec carrying the local chart testdata/charts/NAME
// and a k3s release mirror on disk, so that nothing touches the network.
func hostileSpec(t *testing.T, chart string) string {
	t.Helper()
	dir := t.TempDir()
	tree, err := releasetest.Write(filepath.Join(dir, "mirror"), "v1.31.4+k3s1", []string{"amd64"}, releasetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	chartDir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "charts", chart))
	if err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: hostile, version: 0.1.0}
k3s: {version: v1.31.4+k3s1, source: "file://%s"}
charts:
  - name: %s
    repo: %s
    version: 0.1.0
`, tree.Dir, chart, chartDir)
	p := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(p, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ferryRun is one `ferry build` process.
type ferryRun struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	out    string
}

func startBuild(t *testing.T, bin, spec string, args ...string) *ferryRun {
	t.Helper()
	r := &ferryRun{out: filepath.Join(t.TempDir(), "out")}
	r.cmd = exec.Command(bin, append([]string{"build", "-f", spec, "-o", r.out, "--cache-dir", t.TempDir(), "--insecure-unsigned"}, args...)...)
	r.cmd.Stderr = &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

// peakRSS is the largest resident set of the process and of the render
// workers it waited for, from wait4's rusage, in MiB.
func (r *ferryRun) peakRSS() float64 {
	ru, ok := r.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// children lists the pids of the process's children (its render worker).
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(w); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// gone reports whether pid no longer runs (absent, or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// errorLine returns the line of stderr that holds ferry's error: the
// error is one line, after any warnings and progress lines.
func errorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ferry: ") {
			return l
		}
	}
	return ""
}

// noBundle fails the test when the output directory holds any file.
func noBundle(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("output directory holds %s after a failed build", e.Name())
	}
}

// TestBuildBounds runs a real `ferry build` (compiled once for all of its
// subtests) against hostile charts, a hostile registry, and on the demo
// fixture.
func TestBuildBounds(t *testing.T) {
	bin := buildFerry(t)
	t.Run("signal", func(t *testing.T) { testStopsOnSignal(t, bin) })
	t.Run("hostile charts", func(t *testing.T) { testHostileCharts(t, bin) })
	t.Run("hostile registry", func(t *testing.T) { testHostileRegistry(t, bin) })
	t.Run("peak RSS", func(t *testing.T) { testPeakRSS(t, bin) })
}

// testStopsOnSignal sends SIGTERM and SIGINT to a real `ferry build` while
// its render worker loops in a hostile chart: the build exits within
// signalBound, its worker is gone, and the output directory holds nothing.
func testStopsOnSignal(t *testing.T, bin string) {
	spec := hostileSpec(t, "hostile-loop")
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			r := startBuild(t, bin, spec)
			var workers []int
			for deadline := time.Now().Add(30 * time.Second); len(workers) == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no render worker started in 30 s; stderr:\n%s", r.stderr.String())
				}
				workers = children(r.cmd.Process.Pid)
			}
			time.Sleep(200 * time.Millisecond) // let the worker get into the loop
			start := time.Now()
			if err := r.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- r.cmd.Wait() }()
			select {
			case err := <-done:
				took := time.Since(start)
				t.Logf("exited %s after %s (%v), peak RSS %.1f MiB: %s", sig, took.Round(time.Millisecond), err, r.peakRSS(), errorLine(r.stderr.String()))
				if err == nil {
					t.Fatal("build succeeded")
				}
				if !strings.Contains(r.stderr.String(), "signal received") {
					t.Errorf("stderr does not say the build was cancelled: %s", r.stderr.String())
				}
			case <-time.After(signalBound):
				t.Fatalf("ferry build still runs %s after %s", signalBound, sig)
			}
			for _, w := range workers {
				for deadline := time.Now().Add(signalBound); !gone(w); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("render worker %d outlived the build", w)
					}
				}
			}
			noBundle(t, r.out)
		})
	}
}

// testHostileCharts runs a real `ferry build` on each hostile chart with a
// small limit: each ends at its bound with a one-line error naming the
// chart's field path, the limit and the flag. Peak RSS is logged.
func testHostileCharts(t *testing.T, bin string) {
	tests := []struct {
		chart string
		args  []string
		want  []string
	}{
		{"hostile-bomb", []string{"--render-max-memory", "64M"}, []string{"charts[0] (hostile-bomb 0.1.0)", "needed more than 64 MiB of memory", "--render-max-memory"}},
		{"hostile-loop", []string{"--render-timeout", "2s"}, []string{"charts[0] (hostile-loop 0.1.0)", "still rendering after 2s", "--render-timeout"}},
		{"hostile-flood", []string{"--render-max-output", "1M"}, []string{"charts[0] (hostile-flood 0.1.0)", "more than 1 MiB of manifests", "--render-max-output"}},
	}
	for _, tt := range tests {
		t.Run(tt.chart, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			r := startBuild(t, bin, hostileSpec(t, tt.chart), append(tt.args, "-q")...)
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- r.cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-ctx.Done():
				t.Fatalf("ferry build did not end in 2 minutes; stderr:\n%s", r.stderr.String())
			}
			msg := errorLine(r.stderr.String())
			t.Logf("after %s, peak RSS %.1f MiB (ferry build and its render worker): %s", time.Since(start).Round(time.Millisecond), r.peakRSS(), msg)
			if err == nil {
				t.Fatal("build succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if msg == "" {
				t.Errorf("no one-line error on stderr: %q", r.stderr.String())
			}
			noBundle(t, r.out)
		})
	}
}

// testPeakRSS builds the demo bundle (two charts, ten images, two arches)
// with a real `ferry build` and logs its peak RSS, render workers
// included, against the 128 MiB target. Peak RSS includes the pages of the
// executable mapped so far, which vary by 20 MiB and more with how the file
// was written and the page cache (a file fresh from the linker maps the
// most); anonymous memory does not, so it is sampled too.
func testPeakRSS(t *testing.T, bin string) {
	env, err := demo.Start(context.Background(), t.TempDir(), demo.Options{Arches: []string{"amd64", "arm64"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	out := t.TempDir()
	cmd := exec.Command(bin, "build", "-q", "-f", env.SpecPath, "-o", out, "--cache-dir", t.TempDir(), "--key", env.KeyPath)
	cmd.Env = append(os.Environ(), "FERRY_PASSWORD="+env.Password)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var parent int64           // peak RssAnon of ferry build, KiB
	workers := map[int]int64{} // last VmHWM seen of each render worker, KiB
	for sampling := true; sampling; {
		select {
		case err = <-done:
			sampling = false
		case <-time.After(2 * time.Millisecond):
			parent = max(parent, statusKiB(cmd.Process.Pid, "RssAnon:"))
			for _, w := range children(cmd.Process.Pid) {
				// Until it execs, a worker shares ferry's memory and
				// shows ferry's figures; its last sample is its own peak.
				if v := statusKiB(w, "VmHWM:"); v > 0 {
					workers[w] = v
				}
			}
		}
	}
	var worker int64
	for _, v := range workers {
		worker = max(worker, v)
	}
	if err != nil {
		t.Fatalf("ferry build: %v\n%s", err, b.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	t.Logf("demo bundle built; peak RSS %.1f MiB (ferry build and its render workers; target 128 MiB); sampled: ferry build peak anonymous RSS %.1f MiB, render worker peak RSS %.1f MiB (last sample)",
		float64(ru.Maxrss)/1024, float64(parent)/1024, float64(worker)/1024)
}

// statusKiB reads a field of /proc/PID/status in KiB (0 if gone).
func statusKiB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

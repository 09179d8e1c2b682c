package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Sample is one timed run of a command.
type Sample struct {
	// Wall is the elapsed time.
	Wall time.Duration
	// MaxRSS is the peak resident set (bytes) of the largest process the
	// command ran, as /usr/bin/time reports it.
	MaxRSS int64
	// CPU is the user plus system time of the command and its children:
	// less disturbed than Wall by other load on a shared machine.
	CPU time.Duration
	// Stdout is what the command printed.
	Stdout []byte
}

// Runner runs commands under /usr/bin/time. The rusage Go gets for its own
// children is useless here: Linux charges a child cloned from this process
// with this process's whole resident set (which holds the registry).
type Runner struct {
	// Dir is scratch space for /usr/bin/time's output.
	Dir string
	// Env is added to every command's environment.
	Env []string
}

// Run runs name with args and measures it; a failure is an error carrying
// the command's stderr.
func (r *Runner) Run(ctx context.Context, name string, args ...string) (Sample, error) {
	rssFile := filepath.Join(r.Dir, "time.out")
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M %U %S", "-o", rssFile, name}, args...)...)
	cmd.Env = append(os.Environ(), r.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Sample{}, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stderr.Bytes(), 2000))
	}
	raw, err := os.ReadFile(rssFile)
	if err != nil {
		return Sample{}, fmt.Errorf("read /usr/bin/time output: %w", err)
	}
	// The last line holds the numbers (earlier ones may be warnings).
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var kb int64
	var user, sys float64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "%d %f %f", &kb, &user, &sys); err != nil {
		return Sample{}, fmt.Errorf("/usr/bin/time wrote %q, want kilobytes and seconds: %w", raw, err)
	}
	cpu := time.Duration((user + sys) * float64(time.Second))
	return Sample{Wall: wall, MaxRSS: kb << 10, CPU: cpu, Stdout: stdout.Bytes()}, nil
}

// Shell runs script with sh -c, measured like Run.
func (r *Runner) Shell(ctx context.Context, script string) (Sample, error) {
	return r.Run(ctx, "sh", "-c", "set -e; "+script)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Sum adds samples of steps run one after another: walls add, the peak
// RSS is the largest.
func Sum(ss ...Sample) Sample {
	var t Sample
	for _, s := range ss {
		t.Wall += s.Wall
		t.CPU += s.CPU
		t.MaxRSS = max(t.MaxRSS, s.MaxRSS)
	}
	return t
}

// quote quotes s for sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Tools are the binaries the benchmark runs.
type Tools struct {
	Ferry, FerryInstall, Crane, Cosign string
}

// BuildTools builds ferry and ferry-install from the module at modRoot into
// dir and finds crane and cosign on PATH or in $(go env GOPATH)/bin.
func BuildTools(ctx context.Context, modRoot, dir string) (*Tools, error) {
	t := &Tools{Ferry: filepath.Join(dir, "ferry"), FerryInstall: filepath.Join(dir, "ferry-install")}
	for _, b := range []struct{ out, pkg, ldflags string }{
		{t.Ferry, "./cmd/ferry", ""},
		{t.FerryInstall, "./cmd/ferry-install", "-s -w"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", b.ldflags, "-o", b.out, b.pkg)
		cmd.Dir = modRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %w\n%s", b.pkg, err, out)
		}
	}
	gopath, _ := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	find := func(name, install string) (string, error) {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		return "", fmt.Errorf("%s not found: go install %s", name, install)
	}
	var err error
	if t.Crane, err = find("crane", "github.com/google/go-containerregistry/cmd/crane@v0.22.1"); err != nil {
		return nil, err
	}
	if t.Cosign, err = find("cosign", "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"); err != nil {
		return nil, err
	}
	for _, tool := range []string{"zstd", "tar", "sha256sum", "curl", "sh", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: apt-get install zstd tar coreutils curl time", tool)
		}
	}
	return t, nil
}

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchSize is the payload of the generated bundle (default 1 GiB;
// FERRY_BENCH_SIZE_MIB overrides).
func benchSize() int64 {
	if s, err := strconv.ParseInt(os.Getenv("FERRY_BENCH_SIZE_MIB"), 10, 64); err == nil && s > 0 {
		return s << 20
	}
	return 1 << 30
}

// measured is one timed run of a command.
type measured struct {
	wall   time.Duration
	maxRSS int64 // bytes, of the largest process in the run
}

// timeCmd runs a command under /usr/bin/time, whose %M is the peak RSS of
// the command alone. (The rusage Go gets for its own children is useless
// here: Linux charges a child that was cloned sharing the test's memory
// with the test's whole resident set.)
func timeCmd(b *testing.B, name string, args ...string) measured {
	b.Helper()
	rssFile := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, name}, args...)...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if out, err := cmd.Output(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	wall := time.Since(start)
	raw, err := os.ReadFile(rssFile)
	if err != nil {
		b.Fatal(err)
	}
	kb, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		b.Fatalf("/usr/bin/time wrote %q", raw)
	}
	return measured{wall: wall, maxRSS: kb << 10}
}

func buildInstaller(b *testing.B, dir string) string {
	b.Helper()
	bin := filepath.Join(dir, "ferry-install")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/ferry-install")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build ferry-install: %v\n%s", err, out)
	}
	return bin
}

// BenchmarkVerify times `ferry-install verify` against `zstd -dc | sha256sum`
// on the same generated bundle, three runs each, and reports the ratio of
// medians and ferry-install's peak RSS.
func BenchmarkVerify(b *testing.B) {
	for _, tool := range []string{"zstd", "sha256sum", "sh", "/usr/bin/time"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed (apt-get install zstd coreutils time)", tool)
		}
	}
	dir := b.TempDir()
	fx, err := MakeFixture(context.Background(), dir, benchSize())
	if err != nil {
		b.Fatal(err)
	}
	bin := buildInstaller(b, dir)
	st, _ := os.Stat(fx.Bundle)
	const runs = 3
	var ours, base []measured
	b.ResetTimer()
	for range b.N {
		for range runs {
			ours = append(ours, timeCmd(b, bin, "verify", fx.Bundle, "--key", fx.Pub))
			base = append(base, timeCmd(b, "sh", "-c", fmt.Sprintf("zstd -dc %q | sha256sum", fx.Bundle)))
		}
	}
	b.StopTimer()
	report(b, "verify", fx.Payload, st.Size(), ours, base)
}

func median(ms []measured) (lo, mid, hi time.Duration, rss int64) {
	ws := make([]time.Duration, len(ms))
	for i, m := range ms {
		ws[i] = m.wall
		rss = max(rss, m.maxRSS)
	}
	slices.Sort(ws)
	return ws[0], ws[len(ws)/2], ws[len(ws)-1], rss
}

func report(b *testing.B, what string, payload, fileSize int64, ours, base []measured) {
	olo, omid, ohi, orss := median(ours)
	blo, bmid, bhi, _ := median(base)
	ratio := omid.Seconds() / bmid.Seconds()
	b.ReportMetric(ratio, "ratio-vs-baseline")
	b.ReportMetric(float64(payload)/(1<<20)/omid.Seconds(), "MiB/s")
	b.ReportMetric(float64(orss)/(1<<20), "peak-RSS-MiB")
	b.Logf("%s: payload %d MiB, bundle %d MiB; ferry min/median/max %v/%v/%v; baseline %v/%v/%v; ratio %.2f; ferry peak RSS %.1f MiB",
		what, payload>>20, fileSize>>20, olo.Round(time.Millisecond), omid.Round(time.Millisecond), ohi.Round(time.Millisecond),
		blo.Round(time.Millisecond), bmid.Round(time.Millisecond), bhi.Round(time.Millisecond), ratio, float64(orss)/(1<<20))
}

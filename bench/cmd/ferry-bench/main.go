// Command ferry-bench runs Ferry's end-to-end benchmark (package bench) and
// prints Markdown tables: ferry build, verify and install beside the
// by-hand baselines on the same fixture, with ratios and peak RSS, on two
// fixture sizes. `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/bench"
)

func main() {
	runs := flag.Int("runs", 3, "runs of each measurement (at least 3 for min/median/max)")
	layers := flag.Int("layer-mib", bench.Large.LayerMiB, "MiB of gzip image layers in the large fixture")
	divisor := flag.Int("small-divisor", 4, "the small fixture is the large one divided by this")
	only := flag.String("only", "", "run one fixture: large or small (default both)")
	dir := flag.String("dir", os.TempDir(), "scratch directory (needs about 8x the large bundle free)")
	compare := flag.String("compare", "", "instead: time cold and warm builds of these ferry binaries (comma-separated), alternating, on the large fixture")
	serve := flag.String("serve", "", "instead: generate the large fixture (scaled by -small-divisor) in this directory, print its spec, key and password, and serve it until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *serve != "" {
		large := bench.Large
		large.LayerMiB = *layers
		w, err := bench.StartWorld(ctx, *serve, large.Divide("served", *divisor))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ferry-bench:", err)
			os.Exit(1)
		}
		fmt.Printf("spec %s\nkey %s\npub %s\nFERRY_PASSWORD=%s\n", w.Env.SpecPath, w.Env.KeyPath, w.Env.PubPath, w.Env.Password)
		<-ctx.Done()
		w.Env.Close()
		return
	}
	if *compare != "" {
		large := bench.Large
		large.LayerMiB = *layers
		cfg := bench.Config{Dir: *dir, Runs: *runs, Log: os.Stderr}
		if err := bench.Compare(ctx, cfg, large, strings.Split(*compare, ","), os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "ferry-bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, *runs, *layers, *divisor, *only, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, runs, layers, divisor int, only, dir string) error {
	if divisor < 1 {
		return fmt.Errorf("-small-divisor %d: must be at least 1", divisor)
	}
	scratch, err := os.MkdirTemp(dir, "ferry-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	fmt.Fprintln(os.Stderr, "building ferry and ferry-install")
	tools, err := bench.BuildTools(ctx, ".", scratch)
	if err != nil {
		return err
	}
	large := bench.Large
	large.LayerMiB = layers
	scales := []bench.Scale{large.Divide("small", divisor), large}
	switch only {
	case "":
	case "large":
		scales = scales[1:]
	case "small":
		scales = scales[:1]
	default:
		return fmt.Errorf("-only %q: use large or small", only)
	}
	cfg := bench.Config{Tools: tools, Dir: scratch, Runs: runs, Log: os.Stderr}
	startLoad := loadavg()
	var reps []*bench.Report
	start := time.Now()
	for _, s := range scales {
		r, err := bench.Run(ctx, cfg, s)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	fmt.Printf("## Ferry benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("Machine: %s; load average (1, 5, 15 min) at the start %s, at the end %s\n\n", machine(ctx), startLoad, loadavg())
	for _, r := range reps {
		r.WriteMarkdown(os.Stdout)
	}
	fmt.Println("### Peak RSS")
	fmt.Println()
	bench.WriteRSS(os.Stdout, reps)
	fmt.Printf("Total benchmark time %s.\n", bench.Elapsed(time.Since(start)))
	return nil
}

func machine(ctx context.Context) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if out, err := exec.CommandContext(ctx, "free", "-h").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "Mem:") {
				if f := strings.Fields(l); len(f) > 1 {
					mem = f[1] + " RAM"
				}
			}
		}
	}
	return fmt.Sprintf("%s, nproc %d, %s, %s/%s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

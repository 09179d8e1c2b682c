package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Compare times cold and warm `ferry build` with each of several ferry
// binaries (say, before and after a change) on one fixture, alternating
// between them run by run so that load on a shared machine falls on all
// alike. It writes a Markdown table of wall and CPU time and peak RSS.
func Compare(ctx context.Context, c Config, s Scale, bins []string, out io.Writer) error {
	work, err := os.MkdirTemp(c.Dir, "ferry-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	c.logf("%s: generating fixture", s.Name)
	w, err := StartWorld(ctx, filepath.Join(work, "world"), s)
	if err != nil {
		return err
	}
	defer w.Env.Close()
	run := &Runner{Dir: work, Env: []string{"FERRY_PASSWORD=" + w.Env.Password}}
	cold, warm := make([][]Sample, len(bins)), make([][]Sample, len(bins))
	for i := range max(c.Runs, 1) {
		for b, bin := range bins {
			cache, o := filepath.Join(work, "cache"), filepath.Join(work, "out")
			for _, pass := range []*[][]Sample{&cold, &warm} {
				if err := os.RemoveAll(o); err != nil {
					return err
				}
				c.logf("run %d: %s", i+1, bin)
				smp, err := run.Run(ctx, bin, "build", "-f", w.Env.SpecPath, "-o", o, "--key", w.Env.KeyPath, "--cache-dir", cache, "--json")
				if err != nil {
					return err
				}
				(*pass)[b] = append((*pass)[b], smp)
			}
			if err := os.RemoveAll(cache); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "| binary | cold wall (min / median / max) | cold CPU median | warm wall (min / median / max) | warm CPU median | peak RSS |\n|---|---|---|---|---|---|\n")
	for b, bin := range bins {
		fmt.Fprintf(out, "| %s | %s | %.2f s | %s | %.2f s | %.1f MiB |\n", bin,
			spreadOf(walls(cold[b])).secs(), medianCPU(cold[b]), spreadOf(walls(warm[b])).secs(), medianCPU(warm[b]),
			max(peakRSS(cold[b]), peakRSS(warm[b])))
	}
	return nil
}

func medianCPU(ss []Sample) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = s.CPU.Seconds()
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

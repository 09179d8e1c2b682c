package bench

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// spread is the min, median and max of some values.
type spread struct{ lo, mid, hi float64 }

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return spread{s[0], s[len(s)/2], s[len(s)-1]}
}

func walls(ss []Sample) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = s.Wall.Seconds()
	}
	return v
}

func peakRSS(ss []Sample) float64 {
	var m int64
	for _, s := range ss {
		m = max(m, s.MaxRSS)
	}
	return float64(m) / (1 << 20)
}

// ratios are ours/base of run i against run i.
func ratios(ours, base []Sample) []float64 {
	v := make([]float64, min(len(ours), len(base)))
	for i := range v {
		v[i] = ours[i].Wall.Seconds() / base[i].Wall.Seconds()
	}
	return v
}

func (s spread) secs() string { return fmt.Sprintf("%.2f / %.2f / %.2f s", s.lo, s.mid, s.hi) }
func (s spread) ratio() string {
	return fmt.Sprintf("%.2f / **%.2f** / %.2f", s.lo, s.mid, s.hi)
}

func verdict(r spread, target float64) string {
	switch {
	case r.hi <= target:
		return "met"
	case r.mid <= target:
		return "met at median"
	default:
		return "**missed**"
	}
}

// WriteMarkdown writes r as Markdown tables: the comparisons with their
// ratios and targets, the warm rebuild, and the baseline's steps.
func (r *Report) WriteMarkdown(w io.Writer) {
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	runs := len(r.Build.Ours)
	fmt.Fprintf(w, "### Fixture %q: bundle %.0f MiB, payload %.0f MiB, %d runs\n\n", r.Scale.Name, mib(r.BundleSize), mib(r.Payload), runs)
	fmt.Fprintln(w, "| measurement | ferry wall (min / median / max) | baseline wall (min / median / max) | ratio ours/baseline (min / median / max) | target | verdict | CPU s ferry / baseline (median) | ferry MiB/s (median) | ferry peak RSS |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, c := range []*Case{r.Build, r.Verify, r.Install} {
		o, b, q := spreadOf(walls(c.Ours)), spreadOf(walls(c.Base)), spreadOf(ratios(c.Ours, c.Base))
		fmt.Fprintf(w, "| %s | %s | %s | %s | ≤ %.2f | %s | %.2f / %.2f | %.0f | %.1f MiB |\n",
			c.Name, o.secs(), b.secs(), q.ratio(), c.Target, verdict(q, c.Target), medianCPU(c.Ours), medianCPU(c.Base), mib(r.Payload)/o.mid, peakRSS(c.Ours))
	}
	warm := spreadOf(walls(r.Warm))
	var wr []float64
	for i, s := range r.Warm {
		wr = append(wr, s.Wall.Seconds()/r.Build.Ours[i].Wall.Seconds())
	}
	q := spreadOf(wr)
	fmt.Fprintf(w, "| rebuild, warm cache (vs cold build) | %s | (cold) %s | %s | ≤ 0.10 | %s | %.2f / %.2f | %.0f | %.1f MiB |\n",
		warm.secs(), spreadOf(walls(r.Build.Ours)).secs(), q.ratio(), verdict(q, 0.1), medianCPU(r.Warm), medianCPU(r.Build.Ours), mib(r.Payload)/warm.mid, peakRSS(r.Warm))
	fmt.Fprintf(w, "\nBytes downloaded: cold build %v, warm rebuild %v (per run).\n\n", r.ColdDownloaded, r.WarmDownloaded)
	fmt.Fprintln(w, "Baseline build steps (min / median / max; peak RSS):")
	fmt.Fprintln(w)
	for _, name := range []string{"crane pull", "curl", "tar | zstd -T0", "cosign sign-blob"} {
		ss := r.Build.Steps[name]
		fmt.Fprintf(w, "- `%s`: %s; %.1f MiB\n", name, spreadOf(walls(ss)).secs(), peakRSS(ss))
	}
	fmt.Fprintln(w)
}

// WriteRSS writes the peak RSS of ferry's processes on each fixture,
// beside the targets.
func WriteRSS(w io.Writer, reps []*Report) {
	fmt.Fprint(w, "| process |")
	for _, r := range reps {
		fmt.Fprintf(w, " %s (%.0f MiB bundle) |", r.Scale.Name, float64(r.BundleSize)/(1<<20))
	}
	fmt.Fprintln(w, " target |")
	fmt.Fprint(w, "|---|")
	for range reps {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w, "---|")
	rows := []struct {
		name   string
		target string
		pick   func(*Report) []Sample
	}{
		{"ferry build (cold)", "≤ 128 MiB", func(r *Report) []Sample { return r.Build.Ours }},
		{"ferry build (warm)", "≤ 128 MiB", func(r *Report) []Sample { return r.Warm }},
		{"ferry-install verify", "≤ 64 MiB", func(r *Report) []Sample { return r.Verify.Ours }},
		{"ferry-install server", "≤ 64 MiB", func(r *Report) []Sample { return r.Install.Ours }},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |", row.name)
		for _, r := range reps {
			fmt.Fprintf(w, " %.1f MiB |", peakRSS(row.pick(r)))
		}
		fmt.Fprintf(w, " %s |\n", row.target)
	}
	fmt.Fprintln(w)
}

// Elapsed formats a duration for logs.
func Elapsed(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

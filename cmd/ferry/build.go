package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/builder"
	"github.com/ferry-k3s/ferry/bundle/charts"
	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/signing"
)

// buildFlags are the flags of ferry build and ferry lock.
type buildFlags struct {
	spec, out, key, cacheDir, level, split string
	locked, dryRun, unsigned               bool
	jobs                                   int
	bounds                                 boundFlags
}

// boundFlags are the limits of ferry build's inputs; sizes are spelled as
// --split's (3900M, 4G, bytes).
type boundFlags struct {
	stall, renderTimeout              time.Duration
	maxDownload, renderOut, renderMem string
}

// add registers the flags; the defaults shown are the libraries' own.
func (b *boundFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&b.stall, "stall-timeout", fetch.DefaultStallTimeout, "abandon (and retry) a download that receives nothing for this long")
	fl.StringVar(&b.maxDownload, "max-download", "4G", "largest download whose size nothing declares (release assets, files: known by digest only)")
	fl.DurationVar(&b.renderTimeout, "render-timeout", charts.DefaultRenderTimeout, "longest time one chart may take to render")
	fl.StringVar(&b.renderOut, "render-max-output", "32M", "most manifests one chart may render")
	fl.StringVar(&b.renderMem, "render-max-memory", "256M", "most memory the process rendering one chart may hold")
}

// apply copies the flags into o.
func (b *boundFlags) apply(o *builder.Options) error {
	if b.stall <= 0 || b.renderTimeout <= 0 {
		return errors.New("--stall-timeout and --render-timeout: give a positive duration, e.g. 60s")
	}
	o.StallTimeout, o.Render.Timeout = b.stall, b.renderTimeout
	for _, sz := range []struct {
		flag, val string
		dst       *int64
	}{
		{"--max-download", b.maxDownload, &o.MaxDownload},
		{"--render-max-output", b.renderOut, &o.Render.MaxOutput},
		{"--render-max-memory", b.renderMem, &o.Render.MaxMemory},
	} {
		n, err := parseSize(sz.val)
		if err != nil {
			return fmt.Errorf("%s %q: %w", sz.flag, sz.val, err)
		}
		*sz.dst = n
	}
	return nil
}

func (f *buildFlags) options(cmd *cobra.Command, g *globalOptions) (builder.Options, error) {
	o := builder.Options{SpecPath: f.spec, OutDir: f.out, Locked: f.locked, CacheDir: f.cacheDir, Jobs: f.jobs, InsecureUnsigned: f.unsigned}
	if err := f.bounds.apply(&o); err != nil {
		return o, err
	}
	if !g.Quiet && !g.JSON {
		o.Log = cmd.ErrOrStderr()
	}
	switch strings.ToLower(f.level) {
	case "", "fastest":
		o.Level = zstd.SpeedFastest
	case "default":
		o.Level = zstd.SpeedDefault
	case "better":
		o.Level = zstd.SpeedBetterCompression
	case "best":
		o.Level = zstd.SpeedBestCompression
	default:
		return o, fmt.Errorf("--level %q: use fastest, default, better or best", f.level)
	}
	if f.split != "" {
		n, err := parseSize(f.split)
		if err != nil {
			return o, fmt.Errorf("--split %q: %w", f.split, err)
		}
		o.Split = n
	}
	if f.key != "" {
		k, err := signing.ReadKey(f.key, password)
		if err != nil {
			return o, err
		}
		o.Key = k
	}
	return o, nil
}

func newBuildCmd(g *globalOptions) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "build -f ferry.yaml -o DIR --key ferry.key",
		Short: "Fetch everything the spec names and write one signed bundle",
		Long: "build validates the spec, fetches the k3s release assets for each arch (checked against the release's\n" +
			"sha256sum file), pulls the charts, renders them to find every image they run, pulls those images, and\n" +
			"writes DIR/NAME-VERSION.ferry with its detached .sig and .sha256. Downloads are cached by digest.",
		Example: "  ferry build -f ferry.yaml -o out --key ferry.key\n  ferry build -f ferry.yaml --dry-run",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			if f.dryRun {
				p, err := builder.Resolve(cmd.Context(), o)
				if err != nil {
					return err
				}
				return printPlan(cmd.OutOrStdout(), p, g.JSON)
			}
			if o.Key == nil && !f.unsigned {
				return errors.New("no signing key: pass --key ferry.key (make one with 'ferry keygen'), or --insecure-unsigned for an experiment")
			}
			if f.unsigned {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --insecure-unsigned: hosts will refuse this bundle unless they pass --insecure-skip-signature")
			}
			stopProgress := func() {}
			if !g.Quiet && !g.JSON && isTerminal(os.Stderr) {
				ui := newProgressUI(os.Stderr)
				o.Progress, o.Log, stopProgress = ui.events, ui, ui.stop
			}
			sum, err := builder.Build(cmd.Context(), o)
			stopProgress()
			if err != nil {
				return err
			}
			return printSummary(cmd.OutOrStdout(), sum, g.JSON)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.spec, "file", "f", "ferry.yaml", "bundle spec")
	fl.StringVarP(&f.out, "output", "o", "out", "directory for the bundle, its .sig and .sha256")
	fl.StringVar(&f.key, "key", "", "signing key: ferry.key or a cosign key (password from FERRY_PASSWORD)")
	fl.BoolVar(&f.locked, "locked", false, "use ferry.lock.json's digests; fail if anything resolves differently")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "download cache (default $XDG_CACHE_HOME/ferry)")
	fl.IntVar(&f.jobs, "jobs", 0, "parallel downloads (default min(8, 4 x CPUs))")
	fl.StringVar(&f.level, "level", "fastest", "zstd level: fastest (stores already-compressed layers cheaply; chosen by measurement, see BENCHMARKS.md), default, better, best")
	fl.StringVar(&f.split, "split", "", "write parts of at most SIZE (e.g. 3900M for FAT32) plus a signed NAME.parts.json")
	fl.BoolVar(&f.dryRun, "dry-run", false, "resolve everything and print the plan (images found in the charts); write no bundle")
	fl.BoolVar(&f.unsigned, "insecure-unsigned", false, "write an unsigned bundle (experiments only)")
	f.bounds.add(cmd)
	return cmd
}

func newLockCmd(g *globalOptions) *cobra.Command {
	f := &buildFlags{}
	cmd := &cobra.Command{
		Use:   "lock -f ferry.yaml",
		Short: "Resolve the spec and pin every artifact by digest in ferry.lock.json",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(cmd, g)
			if err != nil {
				return err
			}
			p, err := builder.WriteLock(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "locked %d k3s assets, %d charts, %d images, %d files\n", len(p.Lock.K3s), len(p.Lock.Charts), len(p.Lock.Images), len(p.Lock.Files))
			return nil
		},
	}
	cmd.Flags().StringVarP(&f.spec, "file", "f", "ferry.yaml", "bundle spec; the lock is written beside it")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "download cache (default $XDG_CACHE_HOME/ferry)")
	cmd.Flags().IntVar(&f.jobs, "jobs", 0, "parallel downloads (default min(8, 4 x CPUs))")
	f.bounds.add(cmd)
	return cmd
}

func printPlan(w io.Writer, p *builder.Plan, asJSON bool) error {
	if asJSON {
		return bundle.WriteJSON(w, map[string]any{"images": p.Refs, "lock": p.Lock})
	}
	fmt.Fprintf(w, "k3s %s for %s\n", p.Spec.K3s.Version, strings.Join(p.Spec.K3s.Arch, ", "))
	for _, c := range p.Charts {
		fmt.Fprintf(w, "chart %s %s (sha256 %s)\n", c.Archive.Name, c.Archive.Version, c.Archive.SHA256)
	}
	fmt.Fprintf(w, "images (%d):\n", len(p.Refs))
	for _, r := range p.Refs {
		fmt.Fprintf(w, "  %s\n", r)
	}
	return nil
}

func printSummary(w io.Writer, s *builder.Summary, asJSON bool) error {
	if asJSON {
		return bundle.WriteJSON(w, s)
	}
	if len(s.Parts) > 0 {
		fmt.Fprintf(w, "wrote %s in %d parts (%s.part001 ...) with the signed index %s.parts.json\n", s.Bundle, len(s.Parts), s.Bundle, s.Bundle)
	} else {
		fmt.Fprintf(w, "wrote %s\n", s.Bundle)
	}
	for _, a := range s.Artifacts {
		fmt.Fprintf(w, "  %-48s %-14s %10s\n", a.Path, a.Role, size(a.Size))
	}
	signed := "UNSIGNED"
	if s.Signed {
		signed = "signed by " + s.KeyID
	}
	fmt.Fprintf(w, "%d entries, %s payload, %s bundle, %d images, %d charts; %s\n", s.Entries, size(s.Payload), size(s.Size), s.Images, s.Charts, signed)
	fmt.Fprintf(w, "downloaded %s in %d requests; took %s\nsha256 %s\n", size(s.Download), s.Requests, s.Duration.Round(time.Millisecond), s.SHA256)
	return nil
}

// parseSize reads 3900M, 4G, 512K or a number of bytes (binary units).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("not a size: write e.g. 3900M, 4G or a number of bytes")
	}
	return n * mult, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether progress may be drawn on w.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

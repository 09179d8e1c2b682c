package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Case is one comparison: the same work done by Ferry and by hand, once
// per run.
type Case struct {
	// Name says what was timed.
	Name string
	// Ours and Base are the samples of Ferry and of the baseline, run i
	// of each taken back to back.
	Ours, Base []Sample
	// Target is the ceiling on ours/baseline (0: none).
	Target float64
	// Steps are the baseline's parts (crane, zstd, ...), for the report.
	Steps map[string][]Sample
}

// Report is everything measured on one fixture.
type Report struct {
	Scale Scale
	// BundleSize is the size of the bundle file; Payload the uncompressed
	// size of its entries (bytes).
	BundleSize, Payload int64
	// Build, Verify and Install compare Ferry with the baselines.
	Build, Verify, Install *Case
	// Warm are the rebuilds with a warm cache; WarmDownloaded and
	// ColdDownloaded the bytes each build downloaded.
	Warm                           []Sample
	WarmDownloaded, ColdDownloaded []int64
}

// Config says how to run the suite.
type Config struct {
	// Tools are the binaries to run.
	Tools *Tools
	// Dir is scratch space; the suite removes what it creates in it.
	Dir string
	// Runs is how many times each measurement is taken (at least 1).
	Runs int
	// Log receives progress lines (nil: none).
	Log io.Writer
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", args...)
	}
}

// summary is the part of `ferry build --json` the suite reads.
type summary struct {
	Bundle   string `json:"bundle"`
	Size     int64  `json:"size"`
	Payload  int64  `json:"payload"`
	Download int64  `json:"downloadedBytes"`
}

// Run generates the fixture for s and measures every case c.Runs times.
func Run(ctx context.Context, c Config, s Scale) (*Report, error) {
	work := filepath.Join(c.Dir, s.Name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	c.logf("%s: generating fixture (%d MiB of gzip layers, %d MiB binary, %d MiB airgap)", s.Name, s.LayerMiB, s.BinaryMiB, s.AirgapMiB)
	w, err := StartWorld(ctx, filepath.Join(work, "world"), s)
	if err != nil {
		return nil, err
	}
	defer w.Env.Close()
	run := &Runner{Dir: work, Env: []string{"FERRY_PASSWORD=" + w.Env.Password, "COSIGN_PASSWORD=" + w.Env.Password}}
	rep := &Report{
		Scale:   s,
		Build:   &Case{Name: "build (cold cache, signed)", Target: 0.6, Steps: map[string][]Sample{}},
		Verify:  &Case{Name: "verify", Target: 1.1},
		Install: &Case{Name: "install --no-start --root", Target: 1.15},
	}
	for i := range max(c.Runs, 1) {
		if err := runOnce(ctx, &c, run, w, rep, work, i); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func runOnce(ctx context.Context, c *Config, run *Runner, w *World, rep *Report, work string, i int) error {
	t := c.Tools
	cache, out, warmOut := filepath.Join(work, "cache"), filepath.Join(work, "out"), filepath.Join(work, "out-warm")
	for _, d := range []string{cache, out, warmOut} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	build := func(dst string) (Sample, summary, error) {
		smp, err := run.Run(ctx, t.Ferry, "build", "-f", w.Env.SpecPath, "-o", dst, "--key", w.Env.KeyPath, "--cache-dir", cache, "--json")
		var sum summary
		if err == nil {
			err = json.Unmarshal(smp.Stdout, &sum)
		}
		return smp, sum, err
	}
	var sum summary
	cold, base, err := pair(i, func() (Sample, error) {
		c.logf("%s run %d: ferry build, cold cache", rep.Scale.Name, i+1)
		smp, s, err := build(out)
		sum = s
		return smp, err
	}, func() (Sample, error) {
		c.logf("%s run %d: baseline crane + curl + tar|zstd + cosign", rep.Scale.Name, i+1)
		return baselineBuild(ctx, run, t, w, rep.Build, work)
	})
	if err != nil {
		return err
	}
	rep.BundleSize, rep.Payload = sum.Size, sum.Payload
	rep.ColdDownloaded = append(rep.ColdDownloaded, sum.Download)
	c.logf("%s run %d: ferry build, warm cache", rep.Scale.Name, i+1)
	warm, wsum, err := build(warmOut)
	if err != nil {
		return err
	}
	rep.Warm = append(rep.Warm, warm)
	rep.WarmDownloaded = append(rep.WarmDownloaded, wsum.Download)
	for _, d := range []string{warmOut, cache} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	rep.Build.Ours, rep.Build.Base = append(rep.Build.Ours, cold), append(rep.Build.Base, base)

	bundle := sum.Bundle
	// ferry build writes the bundle past the page cache (O_DIRECT); read it
	// once, untimed, so that verify and install, ours and the baseline's,
	// all read it from memory rather than whichever goes first paying for
	// the disk.
	if err := readAll(bundle); err != nil {
		return err
	}
	c.logf("%s run %d: verify", rep.Scale.Name, i+1)
	ov, bv, err := pair(i, func() (Sample, error) {
		return run.Run(ctx, t.FerryInstall, "verify", bundle, "--key", w.Env.PubPath)
	}, func() (Sample, error) {
		return run.Shell(ctx, fmt.Sprintf("zstd -dc %s | sha256sum", quote(bundle)))
	})
	if err != nil {
		return err
	}
	rep.Verify.Ours, rep.Verify.Base = append(rep.Verify.Ours, ov), append(rep.Verify.Base, bv)

	c.logf("%s run %d: install", rep.Scale.Name, i+1)
	root, troot := filepath.Join(work, "root"), filepath.Join(work, "tar-root")
	for _, d := range []string{root, troot} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	oi, bi, err := pair(i, func() (Sample, error) {
		return run.Run(ctx, t.FerryInstall, "server", "--bundle", bundle, "--key", w.Env.PubPath, "--root", root, "--no-start", "--skip-preflight",
			"--set", "nfs-subdir-external-provisioner.nfs.server=10.0.0.2", "--set", "nfs-subdir-external-provisioner.nfs.path=/export")
	}, func() (Sample, error) {
		return run.Shell(ctx, fmt.Sprintf("mkdir %s && zstd -dc %s | tar -x -C %s", quote(troot), quote(bundle), quote(troot)))
	})
	if err != nil {
		return err
	}
	rep.Install.Ours, rep.Install.Base = append(rep.Install.Ours, oi), append(rep.Install.Base, bi)
	for _, d := range []string{root, troot, out} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}

// pair runs ours and base back to back, ours first in even runs and the
// baseline first in odd ones, so that neither always inherits the other's
// page cache state or disk writeback.
func pair(run int, ours, base func() (Sample, error)) (o, b Sample, err error) {
	if run%2 == 1 {
		if b, err = base(); err != nil {
			return o, b, err
		}
		o, err = ours()
		return o, b, err
	}
	if o, err = ours(); err != nil {
		return o, b, err
	}
	b, err = base()
	return o, b, err
}

// baselineBuild does by hand what ferry build does: crane pulls the images
// into one tarball, curl fetches the release assets and charts, tar | zstd
// -T0 packs everything, cosign sign-blob signs the result.
func baselineBuild(ctx context.Context, run *Runner, t *Tools, w *World, c *Case, work string) (Sample, error) {
	dir := filepath.Join(work, "baseline")
	content := filepath.Join(dir, "content")
	if err := os.RemoveAll(dir); err != nil {
		return Sample{}, err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(content, 0o755); err != nil {
		return Sample{}, err
	}
	out := filepath.Join(dir, "bundle.tar.zst")
	var curl []string
	for _, u := range w.Downloads {
		curl = append(curl, fmt.Sprintf("curl -sSf -o %s %s", quote(filepath.Join(content, filepath.Base(u))), quote(u)))
	}
	steps := []struct{ name, script string }{
		{"crane pull", fmt.Sprintf("%s pull --platform linux/amd64 --format tarball %s %s", quote(t.Crane), strings.Join(w.Images, " "), quote(filepath.Join(content, "images.tar")))},
		{"curl", strings.Join(curl, " && ")},
		{"tar | zstd -T0", fmt.Sprintf("tar -C %s -cf - . | zstd -T0 -q -o %s", quote(content), quote(out))},
		{"cosign sign-blob", fmt.Sprintf("%s sign-blob --yes --tlog-upload=false --key %s --output-signature %s %s >/dev/null",
			quote(t.Cosign), quote(w.Env.KeyPath), quote(out+".sig"), quote(out))},
	}
	var all []Sample
	for _, st := range steps {
		smp, err := run.Shell(ctx, st.script)
		if err != nil {
			return Sample{}, fmt.Errorf("baseline %s: %w", st.name, err)
		}
		c.Steps[st.name] = append(c.Steps[st.name], smp)
		all = append(all, smp)
	}
	return Sum(all...), nil
}

func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

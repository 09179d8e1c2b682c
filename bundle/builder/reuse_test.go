package builder_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/builder"
)

// TestRebuildReusesBundle: a rebuild with unchanged inputs reuses the
// bytes of the last such bundle (the same bytes as a build from an empty
// cache, a fresh verifying .sig), but only after hashing them in full: a
// bundle changed in place, even at the same size and mtime, or a changed
// input, is written afresh. The output is never a link.
func TestRebuildReusesBundle(t *testing.T) {
	env, s, v := startDemo(t, "amd64")
	ctx := context.Background()
	cache := t.TempDir()
	var logs bytes.Buffer
	run := func(t *testing.T, cache, out string, edit func(*builder.Options)) (*builder.Summary, []byte, string) {
		t.Helper()
		logs.Reset()
		o := opts(env, s, cache, out)
		o.Log = &logs
		if edit != nil {
			edit(&o)
		}
		sum, err := builder.Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.VerifyFile(ctx, sum.Bundle, bundle.WithVerifier(v)); err != nil {
			t.Fatalf("verify: %v", err)
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(sum.Bundle, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink != 1 {
			t.Fatalf("output %s: mode %o, %d links (%v): want a regular file of its own", sum.Bundle, st.Mode, st.Nlink, err)
		}
		b, err := os.ReadFile(sum.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		return sum, b, logs.String()
	}
	const reusedLine = "bundle reused from cache"
	coldOut := t.TempDir()
	cold, coldBytes, log := run(t, cache, coldOut, nil)
	if strings.Contains(log, reusedLine) {
		t.Fatalf("a build with an empty cache says it reused a bundle:\n%s", log)
	}
	damage := func(t *testing.T) {
		// Same size, same mtime: only a full hash can tell.
		st, _ := os.Stat(cold.Bundle)
		if err := os.WriteFile(cold.Bundle, bytes.Repeat([]byte{0}, len(coldBytes)), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(cold.Bundle, st.ModTime(), st.ModTime())
	}
	tests := []struct {
		name       string
		cache      string
		out        string
		edit       func(*builder.Options)
		damage     func(*testing.T)
		wantReused bool
		wantSame   bool
	}{
		{"unchanged inputs reuse into another directory", cache, "", nil, nil, true, true},
		{"unchanged inputs reuse in place", cache, coldOut, nil, nil, true, true},
		{"empty cache writes the same bytes", t.TempDir(), "", nil, nil, false, true},
		{"another level writes afresh", cache, "", func(o *builder.Options) { o.Level = zstd.SpeedBetterCompression }, nil, false, false},
		{"another creation time writes afresh", cache, "", func(o *builder.Options) { o.Created = time.Unix(1e9, 0) }, nil, false, false},
		{"earlier bundle changed in place writes afresh", cache, "", nil, damage, false, true},
		{"earlier bundle changed in place is rewritten in place", cache, coldOut, nil, damage, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.damage != nil {
				tt.damage(t)
			}
			out := tt.out
			if out == "" {
				out = t.TempDir()
			}
			sum, b, log := run(t, tt.cache, out, tt.edit)
			if got := strings.Contains(log, reusedLine); got != tt.wantReused {
				t.Errorf("reused = %v, want %v; log:\n%s", got, tt.wantReused, log)
			}
			if got := bytes.Equal(b, coldBytes); got != tt.wantSame {
				t.Errorf("same bytes as the first build = %v, want %v", got, tt.wantSame)
			}
			if tt.wantSame && (sum.SHA256 != cold.SHA256 || sum.Size != cold.Size || sum.Entries != cold.Entries || sum.Images != cold.Images) {
				t.Errorf("summary %+v differs from the first build's %+v", sum, cold)
			}
			sidecar, err := os.ReadFile(sum.Bundle + ".sha256")
			if err != nil || !strings.HasPrefix(string(sidecar), sum.SHA256+"  ") {
				t.Errorf(".sha256 = %q (%v), want the bundle's sha256 %s", sidecar, err, sum.SHA256)
			}
		})
	}
	if kept, _ := filepath.Glob(filepath.Join(cache, "bundles", "*.json")); len(kept) > 2 {
		t.Errorf("%d bundles remembered in the cache, want at most 2", len(kept))
	}
	if copies, _ := filepath.Glob(filepath.Join(cache, "bundles", "*.ferry")); len(copies) != 0 {
		t.Errorf("bundle copies kept in the cache: %v", copies)
	}
}

// TestOutputLinksAreReplaced: links planted in the output directory at the
// bundle's, .sig's and .sha256's names are replaced, never written
// through, on a fresh build and on a reuse.
func TestOutputLinksAreReplaced(t *testing.T) {
	env, s, v := startDemo(t, "amd64")
	ctx := context.Background()
	cache := t.TempDir()
	first, err := builder.Build(ctx, opts(env, s, cache, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(first.Bundle)
	for _, reuse := range []bool{false, true} {
		c := t.TempDir() // an empty cache: a fresh build
		if reuse {
			c = cache
		}
		out, outside := t.TempDir(), t.TempDir()
		var victims []string
		for _, suffix := range []string{"", ".sig", ".sha256"} {
			victim := filepath.Join(outside, "victim"+suffix)
			os.WriteFile(victim, []byte("keep me"), 0o644)
			victims = append(victims, victim)
			if err := os.Symlink(victim, filepath.Join(out, name+suffix)); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		o := opts(env, s, c, out)
		o.Log = &logs
		sum, err := builder.Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "bundle reused from cache"); got != reuse {
			t.Errorf("reuse = %v, want %v", got, reuse)
		}
		for _, victim := range victims {
			if b, _ := os.ReadFile(victim); string(b) != "keep me" {
				t.Errorf("reuse=%v: %s was written through a planted link: %q", reuse, victim, b)
			}
		}
		for _, suffix := range []string{"", ".sig", ".sha256"} {
			if st, err := os.Lstat(sum.Bundle + suffix); err != nil || !st.Mode().IsRegular() {
				t.Errorf("reuse=%v: %s%s is not a regular file after the build (%v)", reuse, name, suffix, err)
			}
		}
		if _, err := bundle.VerifyFile(ctx, sum.Bundle, bundle.WithVerifier(v)); err != nil {
			t.Errorf("reuse=%v: %v", reuse, err)
		}
	}
}

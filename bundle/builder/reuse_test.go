package builder_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/builder"
)

// TestRebuildReusesBundle: a rebuild with unchanged inputs links the
// cached bundle (same bytes as a build from an empty cache, a fresh
// verifying .sig); a bundle changed in place, or a changed input, is
// written afresh.
func TestRebuildReusesBundle(t *testing.T) {
	env, s, v := startDemo(t, "amd64")
	ctx := context.Background()
	cache := t.TempDir()
	var logs bytes.Buffer
	run := func(t *testing.T, cache string, edit func(*builder.Options)) (*builder.Summary, []byte, string) {
		t.Helper()
		logs.Reset()
		o := opts(env, s, cache, t.TempDir())
		o.Log = &logs
		if edit != nil {
			edit(&o)
		}
		sum, err := builder.Build(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bundle.VerifyFile(ctx, sum.Bundle, v, bundle.WithVerifier(v)); err != nil {
			t.Fatalf("verify: %v", err)
		}
		b, err := os.ReadFile(sum.Bundle)
		if err != nil {
			t.Fatal(err)
		}
		return sum, b, logs.String()
	}
	const reusedLine = "bundle reused from cache"
	cold, coldBytes, log := run(t, cache, nil)
	if strings.Contains(log, reusedLine) {
		t.Fatalf("a build with an empty cache says it reused a bundle:\n%s", log)
	}
	tests := []struct {
		name       string
		cache      string
		edit       func(*builder.Options)
		damage     bool
		wantReused bool
		wantSame   bool
	}{
		{"unchanged inputs reuse", cache, nil, false, true, true},
		{"empty cache writes the same bytes", t.TempDir(), nil, false, false, true},
		{"another level writes afresh", cache, func(o *builder.Options) { o.Level = zstd.SpeedBetterCompression }, false, false, false},
		{"another creation time writes afresh", cache, func(o *builder.Options) { o.Created = time.Unix(1e9, 0) }, false, false, false},
		{"cached bundle changed in place writes afresh", cache, nil, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.damage {
				cached, _ := filepath.Glob(filepath.Join(tt.cache, "bundles", "*.ferry"))
				for _, c := range cached {
					if err := os.WriteFile(c, bytes.Repeat([]byte{0}, len(coldBytes)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				if len(cached) == 0 {
					t.Fatal("no bundle kept in the cache")
				}
			}
			sum, b, log := run(t, tt.cache, tt.edit)
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
	kept, _ := filepath.Glob(filepath.Join(cache, "bundles", "*.ferry"))
	if len(kept) > 2 {
		t.Errorf("%d bundles kept in the cache, want at most 2", len(kept))
	}
}

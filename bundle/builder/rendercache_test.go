package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/builder"
)

// TestRenderCache: a second resolve of the same spec renders no chart (a
// render limit no render can meet does not fail it), and finds the same
// images; a changed value renders again.
func TestRenderCache(t *testing.T) {
	env, s, _ := startDemo(t, "amd64")
	cache := t.TempDir()
	ctx := context.Background()
	first, err := builder.Resolve(ctx, opts(env, s, cache, ""))
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "renders"))
	if len(entries) != len(first.Charts) {
		t.Fatalf("%d render cache entries for %d charts", len(entries), len(first.Charts))
	}
	o := opts(env, s, cache, "")
	o.Render.Timeout = time.Nanosecond // any render would fail
	again, err := builder.Resolve(ctx, o)
	if err != nil {
		t.Fatalf("second resolve rendered a chart: %v", err)
	}
	if !slices.Equal(again.Refs, first.Refs) {
		t.Fatalf("images %v from the cache, %v rendered", again.Refs, first.Refs)
	}
	spec, err := os.ReadFile(env.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(spec), "defaultReplicaCount: 2", "defaultReplicaCount: 3", 1)
	if changed == string(spec) {
		t.Fatal("the demo spec no longer sets defaultReplicaCount: 2")
	}
	o.SpecPath = filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(o.SpecPath, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := builder.Resolve(ctx, o); err == nil || !strings.Contains(err.Error(), "still rendering after 1ns") {
		t.Fatalf("changed values did not render again: %v", err)
	}
}

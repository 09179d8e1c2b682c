package charts

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRenderBounds renders hostile charts: each render ends at its bound
// (memory, time, output, or cancellation) with a one-line error naming the
// chart and the flag that raises the bound. The largest worker's peak RSS
// is logged.
//
// Timing is not asserted, except that a cancelled render returns within
// 5 s: the bound is 2 s from a signal, and 5 s leaves room for a
// loaded 2-core machine.
func TestRenderBounds(t *testing.T) {
	tests := []struct {
		name    string
		chart   string
		limits  Limits
		cancel  time.Duration // cancel ctx after this long; 0: never
		want    []string
		wantErr error
	}{
		{name: "self-including template (2^40 lines)", chart: "hostile-bomb",
			limits: Limits{MaxMemory: 64 << 20},
			want:   []string{"render chart hostile-bomb-0.1.0.tgz", "needed more than 64 MiB of memory", "--render-max-memory"}},
		{name: "10^10 empty iterations", chart: "hostile-loop",
			limits: Limits{Timeout: time.Second},
			want:   []string{"render chart hostile-loop-0.1.0.tgz", "still rendering after 1s", "--render-timeout"}},
		{name: "5 MiB of output", chart: "hostile-flood",
			limits: Limits{MaxOutput: 1 << 20},
			want:   []string{"render chart hostile-flood-0.1.0.tgz", "more than 1 MiB of manifests", "--render-max-output"}},
		{name: "cancelled while looping", chart: "hostile-loop",
			cancel: 300 * time.Millisecond, wantErr: context.Canceled,
			want: []string{"render chart hostile-loop-0.1.0.tgz", "context canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := packageFixture(t, tt.chart, t.TempDir())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			_, err := Render(ctx, archive, RenderOptions{Limits: tt.limits})
			took := time.Since(start)
			if err == nil {
				t.Fatal("hostile chart rendered")
			}
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
			t.Logf("after %s (largest worker so far: peak RSS %.1f MiB): %v", took.Round(time.Millisecond), float64(ru.Maxrss)/1024, err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if tt.cancel > 0 && took > tt.cancel+5*time.Second {
				t.Errorf("render returned %s after it was cancelled", took-tt.cancel)
			}
		})
	}
}

// TestRenderWithinBounds renders the Longhorn-shaped chart and the flood
// chart at a modest size, below the default limits: bounded rendering
// still renders real work. The worker's peak RSS is logged.
func TestRenderWithinBounds(t *testing.T) {
	if _, err := Render(context.Background(), packageFixture(t, "longhorn-shaped", t.TempDir()), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	t.Logf("longhorn-shaped chart: render worker peak RSS %.1f MiB", float64(ru.Maxrss)/1024)
	out, err := Render(context.Background(), packageFixture(t, "hostile-flood", t.TempDir()), RenderOptions{Values: map[string]any{"lines": int64(1000)}})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "\nline"); n != 1000 {
		t.Fatalf("rendered %d lines, want 1000", n)
	}
}

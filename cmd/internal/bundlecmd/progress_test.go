package bundlecmd

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		read, total int64
		elapsed     time.Duration
		want        string
	}{
		{0, 4 << 30, 0, "read 0.0 MiB of 4.0 GiB (0%)"},
		{1 << 30, 4 << 30, 10 * time.Second, "read 1.0 GiB of 4.0 GiB (25%), 102.4 MiB/s, 30s left"},
		{300 << 20, 300 << 20, 3 * time.Second, "read 300.0 MiB of 300.0 MiB (100%), 100.0 MiB/s"},
	}
	for _, tt := range tests {
		if got := line(tt.read, tt.total, tt.elapsed); got != tt.want {
			t.Errorf("line(%d, %d, %v) = %q, want %q", tt.read, tt.total, tt.elapsed, got, tt.want)
		}
	}
}

// TestProgressDraws: at most four redraws a second, the last one always,
// and the line ended once the whole bundle is read.
func TestProgressDraws(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	p := &Progress{w: &buf, now: func() time.Time { return clock }}
	for i := int64(1); i <= 100; i++ {
		clock = clock.Add(10 * time.Millisecond) // 1 s in all
		p.Update(i<<20, 100<<20)
	}
	p.Done()
	out := buf.String()
	if draws := strings.Count(out, "\r"); draws < 2 || draws > 6 {
		t.Errorf("%d redraws in one second, want 2 to 6:\n%q", draws, out)
	}
	if !strings.HasSuffix(out, "read 100.0 MiB of 100.0 MiB (100%), 101.0 MiB/s\n") {
		t.Errorf("last line %q", out[strings.LastIndex(out, "\r")+1:])
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want exactly one line end, got %q", out)
	}
}

// TestProgressOff: nothing is drawn on a pipe, with --json or NO_COLOR.
func TestProgressOff(t *testing.T) {
	if p := NewProgress(&bytes.Buffer{}, false); p != nil {
		t.Error("progress on a buffer")
	}
	t.Setenv("NO_COLOR", "1")
	if p := NewProgress(nil, false); p != nil {
		t.Error("progress without a terminal")
	}
	var p *Progress
	p.Update(1, 2) // safe on nil
	p.Done()
	if p.Options() != nil {
		t.Error("options from a nil progress")
	}
}

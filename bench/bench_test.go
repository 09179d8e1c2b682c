package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunTiny runs the whole suite once on a tiny fixture: every command
// must succeed, the warm rebuild must download nothing, and the report
// must name every measurement.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry and ferry-install and runs crane and cosign: skipped under -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	tools, err := BuildTools(ctx, "..", dir)
	if err != nil {
		t.Skipf("benchmark tools missing: %v", err)
	}
	rep, err := Run(ctx, Config{Tools: tools, Dir: dir, Runs: 1}, Large.Divide("tiny", 160))
	if err != nil {
		t.Fatal(err)
	}
	if rep.BundleSize <= 0 || rep.Payload < 3<<20 {
		t.Errorf("bundle %d bytes, payload %d: want a bundle carrying at least the binary, airgap and layers", rep.BundleSize, rep.Payload)
	}
	if len(rep.WarmDownloaded) != 1 || rep.WarmDownloaded[0] != 0 {
		t.Errorf("warm rebuild downloaded %v bytes, want [0]", rep.WarmDownloaded)
	}
	if len(rep.ColdDownloaded) != 1 || rep.ColdDownloaded[0] < rep.Payload/2 {
		t.Errorf("cold build downloaded %v bytes, want about the payload %d", rep.ColdDownloaded, rep.Payload)
	}
	for _, c := range []*Case{rep.Build, rep.Verify, rep.Install} {
		if len(c.Ours) != 1 || len(c.Base) != 1 || c.Ours[0].Wall <= 0 || c.Ours[0].MaxRSS <= 0 {
			t.Errorf("%s: samples %+v / %+v, want one timed run each", c.Name, c.Ours, c.Base)
		}
	}
	var out bytes.Buffer
	rep.WriteMarkdown(&out)
	WriteRSS(&out, []*Report{rep})
	for _, want := range []string{"build (cold cache, signed)", "verify", "install --no-start --root", "rebuild, warm cache", "crane pull", "ferry-install server"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	t.Run("compare", func(t *testing.T) {
		var table bytes.Buffer
		if err := Compare(ctx, Config{Dir: dir, Runs: 1}, Large.Divide("tiny", 160), []string{tools.Ferry, tools.Ferry}, &table); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(table.String(), "| "+tools.Ferry+" |"); n != 2 {
			t.Errorf("comparison has %d rows for the binary, want 2:\n%s", n, table.String())
		}
	})
}

func TestScaleDivide(t *testing.T) {
	tests := []struct {
		name string
		n    int
		want Scale
	}{
		{"quarter", 4, Scale{Name: "quarter", LayerMiB: 160, BinaryMiB: 17, AirgapMiB: 22}},
		{"tiny", 1000, Scale{Name: "tiny", LayerMiB: 1, BinaryMiB: 1, AirgapMiB: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Large.Divide(tt.name, tt.n); got != tt.want {
				t.Errorf("Divide(%d) = %+v, want %+v", tt.n, got, tt.want)
			}
		})
	}
}

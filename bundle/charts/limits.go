package charts

import (
	"fmt"
	"time"
)

// Defaults of Limits. Real charts stay far below them: the Longhorn chart
// renders about 0.3 MiB in well under a second with some 30 MiB of memory;
// the largest common charts (kube-prometheus-stack with its CRDs) under
// 10 MiB.
const (
	// DefaultRenderTimeout bounds the time one chart may take to render.
	DefaultRenderTimeout = 60 * time.Second
	// DefaultMaxRenderOutput bounds the manifests one chart may render
	// (32 MiB).
	DefaultMaxRenderOutput = 32 << 20
	// DefaultMaxRenderMemory bounds the Go memory of the process rendering
	// one chart (256 MiB).
	DefaultMaxRenderMemory = 256 << 20
)

// Limits bound one chart's render. A chart over any of them fails with an
// error that names the chart, the limit and the flag of `ferry build` that
// raises it.
type Limits struct {
	// Timeout is how long the render may take. Default:
	// DefaultRenderTimeout (60s).
	Timeout time.Duration
	// MaxOutput is how many bytes of manifests it may produce. Default:
	// DefaultMaxRenderOutput (32 MiB).
	MaxOutput int64
	// MaxMemory is how much memory the Go runtime of the rendering process
	// may hold (heap, stacks and runtime structures, as GOMEMLIMIT counts
	// them; the executable itself is not counted); the
	// render is stopped within milliseconds of passing it. Default:
	// DefaultMaxRenderMemory (256 MiB).
	MaxMemory int64
}

// withDefaults fills in the zero fields and refuses negative ones.
func (l Limits) withDefaults() (Limits, error) {
	if l.Timeout < 0 || l.MaxOutput < 0 || l.MaxMemory < 0 {
		return l, fmt.Errorf("render limits %+v: want positive values, or 0 for the defaults", l)
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultRenderTimeout
	}
	if l.MaxOutput == 0 {
		l.MaxOutput = DefaultMaxRenderOutput
	}
	if l.MaxMemory == 0 {
		l.MaxMemory = DefaultMaxRenderMemory
	}
	return l, nil
}

// mib spells a byte count for an error message.
func mib(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

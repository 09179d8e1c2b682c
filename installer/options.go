package installer

import (
	"io"
	"time"
)

// DefaultTimeout bounds each wait for the node to be Ready when the
// options give none (5 minutes).
const DefaultTimeout = 5 * time.Minute

// RunOptions are what every operation on a host shares. InstallOptions,
// UpgradeOptions, RollbackOptions and UninstallOptions embed them, and
// withDefaults is the one place their defaults are set.
type RunOptions struct {
	// Host is the machine, or the --root, to act on. Required.
	Host Host
	// Service drives k3s's service; nil leaves it alone (--no-start).
	// What each operation does with it is in its own options' doc.
	Service Service
	// Timeout bounds each wait for the node to be Ready (default
	// DefaultTimeout).
	Timeout time.Duration
	// DryRun describes every change on DryRunOutput (default io.Discard)
	// instead of making it.
	DryRun       bool
	DryRunOutput io.Writer
	// Log receives progress lines (default io.Discard).
	Log io.Writer
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// withDefaults returns o with every unset field at its default.
func (o RunOptions) withDefaults() RunOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DryRunOutput == nil {
		o.DryRunOutput = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

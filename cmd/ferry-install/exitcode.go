package main

import (
	"errors"

	"github.com/ferry-k3s/ferry/cmd/internal/bundlecmd"
	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/installer/deploy"
)

// Exit codes (documented in the README). A failure that has several
// causes gets the first that applies in this order: hosts (deploy), expired,
// verification, locked, preflight, rolled back. ferry gives the same codes
// for expired and verification.
const (
	exitFailure    = bundlecmd.ExitFailure
	exitPreflight  = 4 // a preflight check failed
	exitRolledBack = 5 // the install failed and was undone
	exitHosts      = 7 // deploy: some hosts failed
	exitLocked     = 8 // another run holds the root; nothing was changed
)

func exitCode(err error) int {
	// A deploy's HostsError wraps each host's own cause (a preflight
	// failure, say): the cluster-level answer comes first.
	var he *deploy.HostsError
	if errors.As(err, &he) {
		return exitHosts
	}
	if code, ok := bundlecmd.ExitCode(err); ok {
		return code
	}
	switch {
	case errors.Is(err, installer.ErrLocked):
		return exitLocked
	case errors.Is(err, installer.ErrPreflight):
		return exitPreflight
	case errors.Is(err, installer.ErrRolledBack):
		return exitRolledBack
	}
	return exitFailure
}

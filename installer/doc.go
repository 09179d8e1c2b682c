// Package installer owns what ferry-install does to a host: preflight
// checks, streaming a verified bundle into a staging directory on the target
// filesystem, placing files by rename, configuring and starting k3s, waiting
// for the node, upgrade, rollback and uninstall. A rollout is an ordered
// list of phases (Manager, Phase), each able to describe itself for
// --dry-run and to undo itself on failure. Phases change the host only
// through a Host (LocalHost: "/" or an alternate --root), record what they
// placed in /var/lib/ferry/state.json (State), and keep a journal in the
// staging directory so that a run after a crash reverts a half-done
// install before it starts again.
//
// LocalHost resolves every path inside its root as if it were "/"
// (installer/hostfs, shared with preflight and service), and the commands
// that change a host hold /var/lib/ferry/lock (lock.go) from before crash
// recovery to their end. state.json is not trusted: statecheck.go says
// which of its paths uninstall, rollback and upgrade may act on.
package installer

// Package installer owns what ferry-install does to a host: preflight
// checks, streaming a verified bundle into a staging directory on the target
// filesystem, placing files by rename, configuring and starting k3s, waiting
// for the node, upgrade, rollback and uninstall. A rollout is an ordered
// list of phases, each able to describe itself for --dry-run and to undo
// itself on failure.
package installer

// Package hostfs resolves host paths ("/etc/rancher/k3s/config.yaml")
// inside a root directory as if that directory were "/", and is the one
// place where ferry-install turns a host path into a file operation.
//
// Every path is resolved with Linux openat2(2) and RESOLVE_IN_ROOT: an
// absolute symbolic link restarts at the root, ".." stops at the root, and
// no link, however it is spelled, leads outside. Where the kernel lacks
// openat2 (ENOSYS, before Linux 5.6) the same rule is applied by a walk
// that opens one component at a time with O_NOFOLLOW and resolves each
// link itself (at most 40 links per path, as the kernel). EnvWalk
// (FERRY_HOSTFS_WALK=1) forces the walk.
//
// Operations on a path act on its last component without following it
// (Lstat, Remove, Rename, Symlink, Mkdir, WriteFile replace a link, never
// its target) unless their doc comment says they follow it (Open, Stat,
// ReadDir, Statfs). RemoveAll removes through directory descriptors with
// unlinkat and never follows a link.
package hostfs

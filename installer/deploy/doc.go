// Package deploy rolls a whole site cluster out over SSH: it is what
// `ferry-install deploy` runs (SPEC §8).
//
// It owns the cluster file (cluster.yaml, or a k3s-ansible inventory read
// as it is), the cluster token kept beside it, the SSH transport (host
// keys checked against known_hosts, ssh-agent or key files, a jump host,
// sudo -n for users other than root), the copy of ferry-install, the
// bundle and the key to each host (skipped when the host holds the same
// sha256, resumed where a copy was cut), and the rollout itself: an
// ordered list of phases of host steps, in the style of k0sctl, each of
// which can describe itself for --dry-run and carries its undo where one
// applies.
//
// deploy never places a file of the install itself on a host: every host
// runs its own ferry-install, which verifies the bundle again and rolls
// itself back on failure. deploy only stages ferry-install, the bundle, the
// key, the token and the site files in the host's work directory
// (default /var/lib/ferry-deploy, or ROOT/var/lib/ferry-deploy for a host
// with an alternate root), and connects only to the hosts the cluster file
// names (and its jump host).
//
// Each host's full log goes to cluster.yaml.logs/HOST.log. Progress is
// reported as events on Options.Events (step start, end, bytes sent);
// the package never draws. Several hosts failing come back as one
// *HostsError joining a *StepError per host, which ferry-install maps to
// exit code 7.
package deploy

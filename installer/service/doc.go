// Package service owns how ferry-install drives k3s's service on a host:
// the init system (systemd, OpenRC, or a plain child process for tests and
// --root runs without an init system) behind one small Manager interface,
// and WaitReady, which watches the bundled `k3s kubectl` until the node is
// Ready and the kube-system pods run.
//
// Commands go through a Runner so that a dry run prints them instead of
// running them. Nothing here links client-go, Helm or registry code: the
// node's state is read from `k3s kubectl ... -o json` with small local
// structs.
package service

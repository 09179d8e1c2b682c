// Package preflight owns the checks ferry-install runs on a host before it
// changes anything: OS release, CPU and memory, free disk for the bundle,
// free ports, swap, firewalls, time sync, hostname, default route,
// nameservers, kernel modules, cgroups, SELinux, an existing k3s install
// and Longhorn's host needs (SPEC §6).
//
// Every check reads files under a root directory (and a proc and sys
// directory), never runs a command and never changes the host, so the same
// checks run against the live host, an alternate root being prepared as a
// disk image, or a prepared tree in a test. Run returns a Report of PASS,
// WARN and FAIL rows, each with the fix an operator should apply; a FAIL
// stops the install unless the operator skips preflight.
package preflight

package preflight

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer/hostfs"
)

// ErrPreflight is returned (wrapped with the names of the failing checks) by
// Report.Err and by callers of Run when at least one check failed.
var ErrPreflight = errors.New("preflight failed")

// Roles a host can be checked for.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Options says which host to check and what will be installed on it.
type Options struct {
	// Root is the root directory of the host's filesystem; default "/".
	Root string
	// ProcDir is the proc filesystem to read; default Root+"/proc".
	ProcDir string
	// SysDir is the sys filesystem to read; default Root+"/sys".
	SysDir string
	// Role is RoleServer or RoleAgent; required.
	Role string
	// Manifest is the bundle to be installed; optional. Without it the disk
	// space and SELinux package checks warn that they could not compare,
	// and the Longhorn check is not needed.
	Manifest *bundle.Manifest
	// EmbeddedEtcd is set for a server started with --cluster-init or
	// joining an HA cluster: ports 2379-2380 must then be free as well.
	EmbeddedEtcd bool
	// AlternateRoot is set when Root is not the running host but a tree
	// being prepared (a disk image): checks of the running kernel, memory,
	// sockets and mounts then WARN "not checked" instead of reading proc
	// and sys.
	AlternateRoot bool
	// Skip names checks (Check.Name) to leave out, e.g. "existing-k3s" for
	// an upgrade; default none.
	Skip []string
}

// Run checks the host described by opts and returns one Check per check
// that was run, in a fixed order. It returns an error only for bad options
// or a cancelled context; a failing host is a Report with FAIL rows (see
// Report.Failed and Report.Err).
func Run(ctx context.Context, opts Options) (*Report, error) {
	h, err := newHost(opts)
	if err != nil {
		return nil, err
	}
	report := &Report{}
	for _, c := range checks {
		if slices.Contains(opts.Skip, c.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("preflight %s: %w", c.name, err)
		}
		var res Check
		if c.runtime && opts.AlternateRoot {
			res = warn("not checked: %s is a property of the running host, not of the alternate root %s", c.what, h.root)
		} else {
			res = c.run(ctx, h)
		}
		res.Name = c.name
		report.Checks = append(report.Checks, res)
	}
	report.SELinux = h.selinux
	return report, nil
}

// check is one entry of the fixed list Run walks.
type check struct {
	name string
	// what names the checked property for the "not checked" note.
	what string
	// runtime checks read the running kernel (proc, sys, /run) and are not
	// checked for an alternate root.
	runtime bool
	run     func(context.Context, *host) Check
}

// checks is the order of the report.
var checks = []check{
	{name: "os-release", what: "the OS release", run: checkOSRelease},
	{name: "cpu", what: "the CPU count", runtime: true, run: checkCPU},
	{name: "memory", what: "memory", runtime: true, run: checkMemory},
	{name: "disk", what: "free disk", run: checkDisk},
	{name: "ports", what: "listening sockets", runtime: true, run: checkPorts},
	{name: "swap", what: "active swap", runtime: true, run: checkSwap},
	{name: "firewall", what: "the firewall", run: checkFirewall},
	{name: "time-sync", what: "time sync", run: checkTimeSync},
	{name: "hostname", what: "the hostname", run: checkHostname},
	{name: "default-route", what: "the routing table", runtime: true, run: checkDefaultRoute},
	{name: "nameservers", what: "resolv.conf", run: checkNameservers},
	{name: "kernel-modules", what: "loaded kernel modules", runtime: true, run: checkModules},
	{name: "cgroups", what: "cgroup controllers", runtime: true, run: checkCgroups},
	{name: "selinux", what: "SELinux mode", run: checkSELinux},
	{name: "existing-k3s", what: "an existing install", run: checkExisting},
	{name: "longhorn", what: "Longhorn's host tools", run: checkLonghorn},
}

// host is where the checks read from: the root through installer/hostfs
// (the installer's one rule for paths inside a root), and proc and sys
// through it too unless ProcDir or SysDir name other directories.
type host struct {
	root string
	fs   *hostfs.Root
	opts Options
	// selinux is set by the SELinux check when the host enforces.
	selinux bool
}

func newHost(opts Options) (*host, error) {
	switch opts.Role {
	case RoleServer, RoleAgent:
	default:
		return nil, fmt.Errorf("preflight: unknown role %q: use %q or %q", opts.Role, RoleServer, RoleAgent)
	}
	if opts.EmbeddedEtcd && opts.Role != RoleServer {
		return nil, fmt.Errorf("preflight: embedded etcd is only for a server: drop --cluster-init/--join or check the server role")
	}
	r, err := hostfs.Open(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	return &host{root: r.Dir(), fs: r, opts: opts}, nil
}

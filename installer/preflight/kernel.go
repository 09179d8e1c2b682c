package preflight

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
)

func checkSwap(_ context.Context, h *host) Check {
	b, err := h.readProc("swaps")
	if err != nil {
		return warn("cannot read /proc/swaps: %v", err)
	}
	var devices []string
	for _, l := range skipHeader(lines(b)) {
		if f := strings.Fields(l); len(f) > 0 {
			devices = append(devices, f[0])
		}
	}
	if len(devices) > 0 {
		return warn("swap is active on %s; the kubelet's memory accounting expects none", strings.Join(devices, ", ")).
			withFix("swapoff -a", "and remove (or comment out) the swap lines in /etc/fstab so it stays off after a reboot")
	}
	return pass("no active swap")
}

// requiredModules are loaded by the k3s unit's ExecStartPre.
var requiredModules = []string{"overlay", "br_netfilter"}

func checkModules(_ context.Context, h *host) Check {
	have := map[string]bool{}
	if b, err := h.readProc("modules"); err == nil {
		for _, l := range lines(b) {
			have[strings.Fields(l)[0]] = true
		}
	}
	release := ""
	if b, err := h.readProc("sys/kernel/osrelease"); err == nil {
		release = strings.TrimSpace(string(b))
	}
	for _, dir := range []string{"/lib/modules", "/usr/lib/modules"} {
		if release == "" {
			break
		}
		b, err := h.readFile((filepath.Join(dir, release, "modules.builtin")))
		if err != nil {
			continue
		}
		for _, l := range lines(b) {
			have[strings.TrimSuffix(filepath.Base(l), ".ko")] = true
		}
	}
	var missing []string
	for _, m := range requiredModules {
		if !have[m] && !h.sysExists(filepath.Join("module", m)) {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		return warn("not loaded: %s (the k3s unit's ExecStartPre modprobes them)", strings.Join(missing, ", ")).
			withFix("modprobe overlay br_netfilter", "and check that the kernel ships them (linux-modules-extra on some cloud kernels)")
	}
	return pass("%s loaded or built in", strings.Join(requiredModules, ", "))
}

// cgroupMemoryFix is the kernel command line that enables the memory
// controller where it is off by default (Raspberry Pi OS).
const cgroupMemoryFix = "add cgroup_memory=1 cgroup_enable=memory to the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt or /boot/cmdline.txt) and reboot"

func checkCgroups(_ context.Context, h *host) Check {
	version := "v2"
	enabled := map[string]bool{}
	if b, err := h.readSys("fs/cgroup/cgroup.controllers"); err == nil {
		for _, c := range strings.Fields(string(b)) {
			enabled[c] = true
		}
	} else {
		version = "v1"
		if b, err := h.readProc("cgroups"); err == nil {
			for _, l := range lines(b) {
				f := strings.Fields(l)
				if len(f) == 4 && !strings.HasPrefix(f[0], "#") && f[3] == "1" {
					enabled[f[0]] = true
				}
			}
		} else {
			for _, c := range []string{"cpu", "memory", "pids"} {
				if h.sysExists(filepath.Join("fs/cgroup", c)) {
					enabled[c] = true
				}
			}
		}
	}
	if len(enabled) == 0 {
		return fail("no cgroup controllers found (neither /sys/fs/cgroup/cgroup.controllers nor v1 hierarchies)").
			withFix("mount the cgroup filesystem (a systemd host does this at boot); k3s cannot run containers without cgroups")
	}
	var missing []string
	for _, c := range []string{"cpu", "memory", "pids"} {
		if !enabled[c] {
			missing = append(missing, c)
		}
	}
	switch {
	case slices.Contains(missing, "memory"):
		return fail("cgroup %s: the memory controller is not enabled", version).withFix(cgroupMemoryFix)
	case len(missing) > 0:
		return warn("cgroup %s: controllers not enabled: %s", version, strings.Join(missing, ", ")).
			withFix("enable them on the kernel command line (cgroup_enable=" + strings.Join(missing, ",") + ") and reboot")
	}
	return pass("cgroup %s with cpu, memory, pids", version)
}

// selinuxEnforcing reports whether SELinux enforces on the host: the
// running kernel's /sys/fs/selinux/enforce, or for an alternate root the
// mode configured in /etc/selinux/config.
func (h *host) selinuxEnforcing() bool {
	if h.opts.AlternateRoot {
		b, err := h.readFile(("/etc/selinux/config"))
		return err == nil && strings.EqualFold(keyValues(b)["SELINUX"], "enforcing")
	}
	b, err := h.readSys("fs/selinux/enforce")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

func checkSELinux(_ context.Context, h *host) Check {
	if !h.selinuxEnforcing() {
		return pass("SELinux is not enforcing")
	}
	h.selinux = true
	if h.opts.Manifest == nil {
		return warn("SELinux is enforcing; no bundle given, so whether it carries the k3s-selinux RPM was not checked").
			withFix("pass --bundle; the bundle must carry k3s-selinux (and container-selinux) under files:")
	}
	for _, e := range h.opts.Manifest.Entries {
		if strings.Contains(e.Path, "k3s-selinux") {
			return pass("SELinux is enforcing; the bundle carries %s (selinux: true will be set in config.yaml)", e.Path)
		}
	}
	return fail("SELinux is enforcing and the bundle carries no k3s-selinux RPM; k3s's containers would be denied").
		withFix("add the k3s-selinux RPM (and container-selinux) to files: in ferry.yaml and rebuild the bundle",
			"or, at your own risk, set SELinux permissive: setenforce 0 and SELINUX=permissive in /etc/selinux/config")
}

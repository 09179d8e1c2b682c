package preflight

import (
	"context"
	"strings"
)

// StatePath is where ferry-install records what it installed (SPEC §6).
const StatePath = "/var/lib/ferry/state.json"

// k3sPaths are the files an existing k3s install (Ferry's or the upstream
// install script's) leaves.
var k3sPaths = []string{
	"/usr/local/bin/k3s",
	"/etc/systemd/system/k3s.service",
	"/etc/systemd/system/k3s-agent.service",
	"/etc/init.d/k3s",
	"/etc/init.d/k3s-agent",
}

func checkExisting(_ context.Context, h *host) Check {
	if h.exists(StatePath) {
		return fail("Ferry has already installed k3s here (%s)", StatePath).
			withFix("use ferry-install upgrade to move to this bundle, or ferry-install uninstall first")
	}
	var found []string
	for _, p := range k3sPaths {
		if h.exists(p) {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		return fail("an existing k3s install was found (%s)", strings.Join(found, ", ")).
			withFix("use ferry-install upgrade, or uninstall it first (/usr/local/bin/k3s-uninstall.sh or k3s-agent-uninstall.sh)")
	}
	return pass("no existing k3s install")
}

// LonghornChart is the chart name that brings in the Longhorn checks.
const LonghornChart = "longhorn"

func checkLonghorn(_ context.Context, h *host) Check {
	if h.opts.Manifest == nil {
		return pass("not needed: no bundle given")
	}
	needed := false
	for _, c := range h.opts.Manifest.Charts {
		if c.Name == LonghornChart {
			needed = true
		}
	}
	if !needed {
		return pass("not needed: no Longhorn chart in the bundle")
	}
	var missing []string
	if h.findProgram("iscsiadm", "/usr/sbin", "/sbin", "/usr/bin") == "" {
		missing = append(missing, "iscsiadm")
	}
	if !h.serviceEnabled("iscsid.service", "iscsid.socket") {
		missing = append(missing, "iscsid enabled")
	}
	if h.findProgram("mount.nfs", "/usr/sbin", "/sbin", "/usr/bin") == "" {
		missing = append(missing, "NFS client (mount.nfs)")
	}
	if len(missing) > 0 {
		return warn("the bundle installs Longhorn, which needs on every node: %s", strings.Join(missing, ", ")).withFix(
			"Debian/Ubuntu: apt-get install open-iscsi nfs-common && systemctl enable --now iscsid",
			"RHEL/Rocky/Alma: dnf install iscsi-initiator-utils nfs-utils && systemctl enable --now iscsid",
			"offline: carry those packages under files: in ferry.yaml")
	}
	return pass("iscsiadm, iscsid and mount.nfs present for Longhorn")
}

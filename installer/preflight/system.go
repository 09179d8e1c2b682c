package preflight

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// supportedOS lists the OS families Ferry supports by os-release ID, with
// the oldest supported VERSION_ID (major, minor); a zero minimum accepts
// every version.
var supportedOS = map[string][2]int{
	"ubuntu":              {20, 4},
	"debian":              {11, 0},
	"rhel":                {8, 0},
	"centos":              {8, 0},
	"rocky":               {8, 0},
	"almalinux":           {8, 0},
	"sles":                {0, 0},
	"sled":                {0, 0},
	"sle-micro":           {0, 0},
	"opensuse":            {0, 0},
	"opensuse-leap":       {0, 0},
	"opensuse-tumbleweed": {0, 0},
	"opensuse-microos":    {0, 0},
}

const supportedOSText = "Ubuntu 20.04+, Debian 11+, RHEL/CentOS/Rocky/Alma 8+, SLES, openSUSE"

func checkOSRelease(_ context.Context, h *host) Check {
	b, err := h.readFile(("/etc/os-release"))
	if os.IsNotExist(err) {
		b, err = h.readFile(("/usr/lib/os-release"))
	}
	if err != nil {
		return warn("cannot read /etc/os-release: %v", err).withFix("k3s may still work; Ferry supports " + supportedOSText)
	}
	kv := keyValues(b)
	id, version := kv["ID"], kv["VERSION_ID"]
	name := kv["PRETTY_NAME"]
	if name == "" {
		name = strings.TrimSpace(id + " " + version)
	}
	minimum, ok := supportedOS[id]
	if !ok {
		return warn("%s is not a supported OS family (ID=%q, ID_LIKE=%q)", name, id, kv["ID_LIKE"]).
			withFix("k3s may still work; Ferry supports " + supportedOSText)
	}
	if minimum == [2]int{} {
		return pass("%s", name)
	}
	major, minor, ok := parseVersion(version)
	if !ok {
		return warn("%s: cannot tell the version (VERSION_ID=%q)", name, version).withFix("k3s may still work; Ferry supports " + supportedOSText)
	}
	if major < minimum[0] || (major == minimum[0] && minor < minimum[1]) {
		return warn("%s is older than supported (%s %d.%02d+)", name, id, minimum[0], minimum[1]).
			withFix("upgrade the OS; Ferry supports " + supportedOSText)
	}
	return pass("%s", name)
}

// parseVersion reads "20.04" or "9" or "8.10" as (major, minor).
func parseVersion(v string) (major, minor int, ok bool) {
	a, b, _ := strings.Cut(v, ".")
	major, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, false
	}
	if b != "" {
		b, _, _ = strings.Cut(b, ".")
		if minor, err = strconv.Atoi(b); err != nil {
			return 0, 0, false
		}
	}
	return major, minor, true
}

func checkCPU(_ context.Context, h *host) Check {
	b, err := h.readProc("cpuinfo")
	if err != nil {
		return warn("cannot read /proc/cpuinfo: %v", err)
	}
	n := 0
	for _, l := range lines(b) {
		if k, _, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	switch {
	case n < 1:
		return fail("no processors listed in /proc/cpuinfo").withFix("k3s needs at least 1 CPU; check the VM's CPU allocation")
	case n < 2:
		return warn("1 CPU; 2 or more are recommended").withFix("give the host 2 or more CPUs for anything beyond a test node")
	}
	return pass("%d CPUs", n)
}

// Memory minimums (SPEC §6), in bytes.
const (
	minServerMemory   = 512 << 20
	minAgentMemory    = 256 << 20
	recommendedMemory = 2 << 30
)

func checkMemory(_ context.Context, h *host) Check {
	b, err := h.readProc("meminfo")
	if err != nil {
		return warn("cannot read /proc/meminfo: %v", err)
	}
	var total int64 = -1
	for _, l := range lines(b) {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					total = kb << 10
				}
			}
		}
	}
	if total < 0 {
		return warn("no MemTotal in /proc/meminfo")
	}
	minimum := int64(minServerMemory)
	if h.opts.Role == RoleAgent {
		minimum = minAgentMemory
	}
	switch {
	case total < minimum:
		return fail("%s of memory; a k3s %s needs at least %s", mib(total), h.opts.Role, mib(minimum)).
			withFix(fmt.Sprintf("give the host at least %s of memory (%s recommended)", mib(minimum), mib(recommendedMemory)))
	case total < recommendedMemory:
		return warn("%s of memory; %s or more is recommended", mib(total), mib(recommendedMemory)).
			withFix(fmt.Sprintf("give the host %s or more of memory for workloads beyond k3s itself", mib(recommendedMemory)))
	}
	return pass("%s of memory", mib(total))
}

// dnsLabel is one lowercase RFC 1123 label; Kubernetes node names are
// dot-separated labels of this form.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func checkHostname(_ context.Context, h *host) Check {
	fix := "hostnamectl set-hostname NAME (a unique lowercase name of letters, digits and '-', e.g. edge-server-1)"
	b, err := h.readFile(("/etc/hostname"))
	if err != nil && !h.opts.AlternateRoot {
		b, err = h.readProc("sys/kernel/hostname")
	}
	if err != nil {
		return fail("cannot read /etc/hostname: %v", err).withFix(fix)
	}
	name := ""
	for _, l := range lines(b) {
		if !strings.HasPrefix(l, "#") {
			name = l
			break
		}
	}
	switch {
	case name == "":
		return fail("the hostname is empty; k3s names the node after it").withFix(fix)
	case name == "localhost" || strings.HasPrefix(name, "localhost."):
		return fail("the hostname is %q; every node needs a unique name", name).withFix(fix)
	case !validNodeName(name):
		return fail("the hostname %q is not a valid node name (lowercase DNS labels: a-z, 0-9, '-')", name).withFix(fix)
	}
	return pass("%s (must be unique in the cluster)", name)
}

func validNodeName(name string) bool {
	if len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// timeSyncUnits are the units that keep the clock in sync.
var timeSyncUnits = []string{"systemd-timesyncd.service", "chronyd.service", "chrony.service", "ntpd.service", "ntp.service", "ntpsec.service", "openntpd.service"}

func checkTimeSync(_ context.Context, h *host) Check {
	for _, u := range timeSyncUnits {
		if h.serviceEnabled(u) {
			return pass("%s is enabled", strings.TrimSuffix(u, ".service"))
		}
	}
	if !h.opts.AlternateRoot && h.exists("/run/systemd/timesync/synchronized") {
		return pass("the clock is synchronized (systemd-timesyncd)")
	}
	return warn("no time sync service is enabled (systemd-timesyncd, chronyd, ntpd); certificates and etcd need clocks that agree").
		withFix("enable one against a site NTP server, e.g. systemctl enable --now chronyd (or systemd-timesyncd)")
}

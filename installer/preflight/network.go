package preflight

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// port is one port k3s must be able to bind.
type port struct {
	num   int
	proto string // "tcp" or "udp"
	what  string
}

func (p port) String() string { return fmt.Sprintf("%d/%s", p.num, p.proto) }

// ports returns the ports the role binds (k3s's inbound rules).
func (h *host) ports() []port {
	var ps []port
	if h.opts.Role == RoleServer {
		ps = append(ps, port{6443, "tcp", "the Kubernetes API"})
	}
	ps = append(ps, port{10250, "tcp", "the kubelet"}, port{8472, "udp", "flannel VXLAN"})
	if h.opts.EmbeddedEtcd {
		ps = append(ps, port{2379, "tcp", "etcd clients"}, port{2380, "tcp", "etcd peers"})
	}
	return ps
}

// tcpListen is the socket state LISTEN in /proc/net/tcp{,6}.
const tcpListen = "0A"

func checkPorts(_ context.Context, h *host) Check {
	busy := map[string]bool{}
	read := 0
	for _, f := range []struct{ file, proto string }{{"net/tcp", "tcp"}, {"net/tcp6", "tcp"}, {"net/udp", "udp"}, {"net/udp6", "udp"}} {
		b, err := h.readProc(f.file)
		if err != nil {
			continue // tcp6/udp6 are absent when IPv6 is off
		}
		read++
		for _, l := range skipHeader(lines(b)) {
			fields := strings.Fields(l)
			if len(fields) < 4 || (f.proto == "tcp" && fields[3] != tcpListen) {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
				busy[fmt.Sprintf("%d/%s", n, f.proto)] = true
			}
		}
	}
	ps := h.ports()
	var names []string
	for _, p := range ps {
		names = append(names, p.String())
	}
	if read == 0 {
		return warn("cannot read /proc/net/tcp or udp: ports %s not checked", strings.Join(names, ", "))
	}
	var taken []string
	var fixes []string
	for _, p := range ps {
		if busy[p.String()] {
			taken = append(taken, fmt.Sprintf("%s (%s)", p, p.what))
			fixes = append(fixes, fmt.Sprintf("stop whatever listens on %s (ss -lntup | grep :%d shows it)", p, p.num))
		}
	}
	if len(taken) > 0 {
		return fail("in use: %s", strings.Join(taken, ", ")).withFix(fixes...)
	}
	return pass("free: %s", strings.Join(names, ", "))
}

// Cluster networks k3s uses by default; firewalls must let them through.
const (
	clusterCIDR = "10.42.0.0/16"
	serviceCIDR = "10.43.0.0/16"
)

func checkFirewall(_ context.Context, h *host) Check {
	var active []string
	var fix []string
	if h.serviceEnabled("firewalld.service") {
		active = append(active, "firewalld")
		for _, p := range h.firewallPorts("-") {
			fix = append(fix, "firewall-cmd --permanent --add-port="+p)
		}
		fix = append(fix,
			"firewall-cmd --permanent --zone=trusted --add-source="+clusterCIDR,
			"firewall-cmd --permanent --zone=trusted --add-source="+serviceCIDR,
			"firewall-cmd --reload")
	}
	if h.ufwActive() {
		active = append(active, "ufw")
		for _, p := range h.firewallPorts(":") {
			fix = append(fix, "ufw allow "+p)
		}
		fix = append(fix, "ufw allow from "+clusterCIDR+" to any", "ufw allow from "+serviceCIDR+" to any")
	}
	if len(active) == 0 {
		return pass("no firewalld or ufw enabled")
	}
	return warn("%s is enabled: k3s needs its ports and the pod (%s) and service (%s) networks let through", strings.Join(active, " and "), clusterCIDR, serviceCIDR).withFix(fix...)
}

// firewallPorts lists the role's ports for a firewall rule, folding
// etcd's 2379 and 2380 into one range written with sep ("-" for
// firewall-cmd, ":" for ufw).
func (h *host) firewallPorts(sep string) []string {
	var out []string
	for _, p := range h.ports() {
		switch p.num {
		case 2379:
			out = append(out, fmt.Sprintf("2379%s2380/tcp", sep))
		case 2380:
		default:
			out = append(out, p.String())
		}
	}
	return out
}

// skipHeader drops the first (column header) line of a proc table.
func skipHeader(ls []string) []string {
	if len(ls) == 0 {
		return nil
	}
	return ls[1:]
}

// ufwActive reports whether ufw filters traffic: /etc/ufw/ufw.conf says
// ENABLED=yes. Ubuntu enables ufw.service by default with ENABLED=no (the
// unit then does nothing), so the unit alone counts only when ufw.conf is
// missing.
func (h *host) ufwActive() bool {
	b, err := h.readFile(("/etc/ufw/ufw.conf"))
	if err != nil {
		return h.serviceEnabled("ufw.service")
	}
	return strings.EqualFold(keyValues(b)["ENABLED"], "yes")
}

// rtfReject marks an unreachable route in /proc/net/ipv6_route (the kernel
// always lists one for ::/0 on lo).
const rtfReject = 0x0200

func checkDefaultRoute(_ context.Context, h *host) Check {
	if b, err := h.readProc("net/route"); err == nil {
		for _, l := range skipHeader(lines(b)) {
			f := strings.Fields(l)
			if len(f) >= 8 && f[1] == "00000000" && f[7] == "00000000" {
				return pass("IPv4 default route via %s", f[0])
			}
		}
	}
	if b, err := h.readProc("net/ipv6_route"); err == nil {
		for _, l := range lines(b) {
			f := strings.Fields(l)
			if len(f) < 10 || f[0] != strings.Repeat("0", 32) || f[1] != "00" || f[9] == "lo" {
				continue
			}
			if flags, err := strconv.ParseUint(f[8], 16, 32); err == nil && flags&rtfReject == 0 {
				return pass("IPv6 default route via %s", f[9])
			}
		}
	}
	return fail("no default route: k3s cannot pick a node IP on a host without one").withFix(
		"add a dummy interface with a default route (pick an unused address pair, not one of your networks):",
		"ip link add dummy0 type dummy; ip addr add 203.0.113.254/31 dev dummy0; ip route add default via 203.0.113.255 dev dummy0 metric 1000",
		"then make it persistent in the host's network configuration")
}

func checkNameservers(_ context.Context, h *host) Check {
	b, _ := h.readFile(("/etc/resolv.conf"))
	var servers []string
	for _, l := range lines(b) {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
			servers = append(servers, f[1])
		}
	}
	if len(servers) == 0 && h.opts.AlternateRoot {
		if p, _ := h.resolve("/etc/resolv.conf"); strings.HasPrefix(p, "/run/") {
			return warn("not checked: /etc/resolv.conf points to %s, which is written at boot", p).
				withFix("make sure the booted host gets a nameserver (DHCP or systemd-resolved), or write 'nameserver IP' into /etc/resolv.conf")
		}
	}
	if len(servers) == 0 {
		return warn("no nameserver in /etc/resolv.conf: k3s needs one (CoreDNS forwards to it)").
			withFix("add 'nameserver 127.0.0.1' or your site DNS server to /etc/resolv.conf")
	}
	return pass("nameservers %s", strings.Join(servers, ", "))
}

package installer

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
)

// AddressPlaceholder stands for this node's address in printed join
// commands when it cannot be known (an alternate root, no default route).
const AddressPlaceholder = "<THIS-NODE-IP>"

// NodeAddress is the address other nodes should use to reach this one:
// the first TLS SAN when given, else the IPv4 address of the interface of
// the default route (only when h is the running host's root, read from
// /proc/net/route), else AddressPlaceholder. It opens no connection.
func NodeAddress(ctx context.Context, h Host, tlsSANs []string) string {
	if len(tlsSANs) > 0 {
		return tlsSANs[0]
	}
	if filepath.Clean(h.Root()) != "/" {
		return AddressPlaceholder
	}
	f, err := h.Open(ctx, "/proc/net/route")
	if err != nil {
		return AddressPlaceholder
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan() && i < 1024; i++ {
		fields := strings.Fields(sc.Text())
		// Iface Destination Gateway ...: the default route has destination 0.
		if len(fields) < 3 || fields[1] != "00000000" {
			continue
		}
		if ip := interfaceIPv4(fields[0]); ip != "" {
			return ip
		}
	}
	return AddressPlaceholder
}

func interfaceIPv4(name string) string {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// JoinOptions fill in the join commands Result.JoinCommands prints.
type JoinOptions struct {
	// Address is this node's address (see NodeAddress).
	Address string
	// Bundle and Key are echoed as --bundle and --key.
	Bundle, Key string
}

// JoinCommands returns the commands that add a server and an agent to the
// cluster r installed; server is empty when no server can join this one (a
// single server on SQLite), both are empty for an agent.
func (r *InstallResult) JoinCommands(o JoinOptions) (server, agent string) {
	if r.Role != "server" {
		return "", ""
	}
	url := shellQuote("https://" + hostPort(o.Address))
	tail := " --token " + shellQuote(r.Token) + " --bundle " + shellQuote(o.Bundle) + " --key " + shellQuote(o.Key)
	switch {
	case r.Node.ClusterInit || r.Node.Server != "":
		server = "ferry-install server --join " + url + tail
	case r.Node.DatastoreEndpoint != "":
		server = "ferry-install server --datastore-endpoint '<DATASTORE-URI>'" + tail
	}
	agent = "ferry-install agent --server " + url + tail
	return server, agent
}

// shellQuote quotes s for a POSIX shell, leaving words of safe characters
// as they are, so that a printed command runs as shown whatever a flag
// held.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func hostPort(addr string) string {
	if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "[") {
		addr = "[" + addr + "]" // IPv6
	}
	return addr + ":6443"
}

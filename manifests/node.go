package manifests

import (
	"fmt"
	"net/url"
	"strings"
)

// Role is the kind of k3s node a host becomes.
type Role string

// Node roles.
const (
	RoleServer Role = "server"
	RoleAgent  Role = "agent"
)

// DefaultDataDir is k3s's state directory when Node.DataDir is empty.
const DefaultDataDir = "/var/lib/rancher/k3s"

// Host paths of the generated files, as k3s's own install script lays them
// out, so that k3s documentation and tools apply unchanged.
const (
	ConfigPath     = "/etc/rancher/k3s/config.yaml"
	RegistriesPath = "/etc/rancher/k3s/registries.yaml"
	SystemdDir     = "/etc/systemd/system"
	OpenRCDir      = "/etc/init.d"
	BinDir         = "/usr/local/bin"
	KillallPath    = BinDir + "/k3s-killall.sh"
)

// Node is everything that shapes a node's generated files.
type Node struct {
	// Role is RoleServer or RoleAgent; it is required.
	Role Role
	// ClusterInit makes the first HA server start embedded etcd.
	ClusterInit bool
	// Server is https://ADDR:6443 of an existing server, for joining
	// servers and for agents (required for agents). It goes into
	// config.yaml as `server:`.
	Server string
	// Token is the cluster secret. It goes only into the env file
	// (K3S_TOKEN), never into config.yaml. Required when Server is set.
	Token string
	// DatastoreEndpoint is an external datastore URI (servers only). It may
	// hold a password, so it goes only into the env file
	// (K3S_DATASTORE_ENDPOINT).
	DatastoreEndpoint string
	// TLSSANs are extra names and addresses on the server certificate
	// (servers only).
	TLSSANs []string
	// NodeLabels are key=value labels registered with the node.
	NodeLabels []string
	// NodeTaints are key=value:Effect taints registered with the node.
	NodeTaints []string
	// SELinux enables SELinux support in k3s's containerd.
	SELinux bool
	// RegistryMirrors are site registry hosts (host[:port], or a full
	// http(s):// URL) that mirror every upstream registry in
	// registries.yaml; empty means no registries.yaml.
	RegistryMirrors []string
	// Extra holds keys of a site's --config file, merged into config.yaml
	// last. Every key must be a k3s flag of the node's role; token,
	// agent-token and datastore-endpoint are refused (secrets belong in the
	// env file).
	Extra map[string]any
	// DataDir is k3s's state directory; empty means DefaultDataDir.
	DataDir string
}

// ServiceName is the name of the node's service: "k3s" for servers,
// "k3s-agent" for agents.
func (n Node) ServiceName() string {
	if n.Role == RoleAgent {
		return "k3s-agent"
	}
	return "k3s"
}

// UnitPath is where the systemd unit goes on the host.
func (n Node) UnitPath() string { return SystemdDir + "/" + n.ServiceName() + ".service" }

// EnvPath is where the env file holding the node's secrets goes on the host
// (mode 0600). Both the systemd unit and the OpenRC script read it.
func (n Node) EnvPath() string { return SystemdDir + "/" + n.ServiceName() + ".service.env" }

// OpenRCPath is where the OpenRC script goes on hosts without systemd.
func (n Node) OpenRCPath() string { return OpenRCDir + "/" + n.ServiceName() }

// UninstallPath is where the uninstall script goes on the host.
func (n Node) UninstallPath() string {
	if n.Role == RoleAgent {
		return BinDir + "/k3s-agent-uninstall.sh"
	}
	return BinDir + "/k3s-uninstall.sh"
}

// dataDir returns the state directory, defaulted.
func (n Node) dataDir() string {
	if n.DataDir == "" {
		return DefaultDataDir
	}
	return n.DataDir
}

// Validate checks that the node's fields fit together. Each error names the
// field and says how to fix it.
func (n Node) Validate() error {
	switch n.Role {
	case RoleServer, RoleAgent:
	case "":
		return fmt.Errorf("node role is empty: use %q or %q", RoleServer, RoleAgent)
	default:
		return fmt.Errorf("node role %q is unknown: use %q or %q", n.Role, RoleServer, RoleAgent)
	}
	if n.Server != "" {
		u, err := url.Parse(n.Server)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("server URL %q is not of the form https://ADDR:6443: give the address of an existing server", n.Server)
		}
		if n.Token == "" {
			return fmt.Errorf("joining %s needs a token: pass the cluster token printed by the first server (--token)", n.Server)
		}
	}
	if n.Role == RoleAgent {
		switch {
		case n.Server == "":
			return fmt.Errorf("agent needs a server URL: pass --server https://ADDR:6443")
		case n.ClusterInit:
			return fmt.Errorf("cluster-init applies to servers only: drop it for an agent")
		case n.DatastoreEndpoint != "":
			return fmt.Errorf("datastore-endpoint applies to servers only: drop it for an agent")
		case len(n.TLSSANs) > 0:
			return fmt.Errorf("tls-san applies to servers only: drop it for an agent")
		}
	}
	if n.ClusterInit && n.Server != "" {
		return fmt.Errorf("cluster-init starts a new cluster but server %s joins one: use one or the other", n.Server)
	}
	if n.ClusterInit && n.DatastoreEndpoint != "" {
		return fmt.Errorf("cluster-init (embedded etcd) conflicts with datastore-endpoint (external datastore): use one or the other")
	}
	for _, s := range []struct{ name, v string }{{"token", n.Token}, {"datastore-endpoint", n.DatastoreEndpoint}} {
		if strings.ContainsAny(s.v, "\n\r\x00") {
			return fmt.Errorf("%s holds a line break or NUL byte: pass it on one line", s.name)
		}
	}
	if err := checkList("--node-label", n.NodeLabels, CheckLabel); err != nil {
		return err
	}
	if err := checkList("--node-taint", n.NodeTaints, CheckTaint); err != nil {
		return err
	}
	if err := checkList("--tls-san", n.TLSSANs, CheckSAN); err != nil {
		return err
	}
	if len(n.RegistryMirrors) > MaxListItems {
		return fmt.Errorf("%d values of --registry-mirror: at most %d are accepted", len(n.RegistryMirrors), MaxListItems)
	}
	if n.DataDir != "" && !strings.HasPrefix(n.DataDir, "/") {
		return fmt.Errorf("data dir %q is not an absolute path: give a path starting with /", n.DataDir)
	}
	for _, m := range n.RegistryMirrors {
		if _, _, err := mirrorEndpoint(m); err != nil {
			return err
		}
	}
	return nil
}

// MirrorAuth is the user and password a --registry-mirror URL carried;
// they go into registries.yaml's configs section (the file is then
// written 0600), never into the endpoint URL.
type MirrorAuth struct {
	// Host is the registry's host[:port], the key of configs.
	Host     string
	Username string
	Password string
}

// mirrorEndpoint turns a registry host into the endpoint URL containerd
// uses: https:// unless a scheme is given, without credentials; those,
// when the URL holds user:password, are returned apart.
func mirrorEndpoint(host string) (string, *MirrorAuth, error) {
	bad := fmt.Errorf("registry mirror %q is not a host[:port] or http(s) URL: give e.g. registry.example:5000", Redact(host))
	if host == "" || strings.ContainsAny(host, " \t\n\r\"'") {
		return "", nil, bad
	}
	raw := host
	if !strings.Contains(host, "://") {
		raw = "https://" + host
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", nil, bad
	}
	var auth *MirrorAuth
	if u.User != nil {
		pw, _ := u.User.Password()
		auth = &MirrorAuth{Host: u.Host, Username: u.User.Username(), Password: pw}
		u.User = nil
		raw = u.String()
	}
	return raw, auth, nil
}

// MirrorHasCredentials reports whether a --registry-mirror value carries
// user:password (registries.yaml must then be private).
func MirrorHasCredentials(m string) bool {
	_, auth, err := mirrorEndpoint(m)
	return err == nil && auth != nil
}

package deploy

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// APIVersion and KindCluster are the only apiVersion and kind accepted.
const (
	APIVersion  = "ferry.k3s.io/v1"
	KindCluster = "Cluster"
)

var (
	hostNameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
	nodeIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	labelRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9./_-]*[A-Za-z0-9])?=[A-Za-z0-9._-]*$`)
	taintRe    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9./_-]*[A-Za-z0-9])?(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$`)
)

// validate checks c; doc (the parsed file, may be nil) gives the lines.
func (c *Cluster) validate(doc *yaml.Node) error {
	bad := func(msg string, p ...any) error {
		return &FieldError{File: c.Path, Field: fieldName(p...), Line: lineOf(doc, p...), Msg: msg}
	}
	if c.APIVersion != APIVersion {
		return bad(fmt.Sprintf("is %q: must be %s", c.APIVersion, APIVersion), "apiVersion")
	}
	if c.Kind != KindCluster {
		return bad(fmt.Sprintf("is %q: must be %s", c.Kind, KindCluster), "kind")
	}
	if n := c.Metadata.Name; n != "" && !nodeIDRe.MatchString(n) {
		return bad(fmt.Sprintf("%q: use letters, digits, '.', '_' and '-' (at most 63)", n), "metadata", "name")
	}
	if err := checkSSH(c.SSH, bad, "ssh"); err != nil {
		return err
	}
	if len(c.Servers) == 0 {
		return bad("name at least one server: servers: [{address: 10.0.0.10}]", "servers")
	}
	ids := map[string]string{}
	targets := map[string]string{}
	for _, g := range []struct {
		key   string
		nodes []Node
	}{{"servers", c.Servers}, {"agents", c.Agents}} {
		for i, n := range g.nodes {
			if err := checkNode(n, bad, g.key, i); err != nil {
				return err
			}
			here := fieldName(g.key, i)
			if prev, ok := ids[n.ID()]; ok {
				return bad(fmt.Sprintf("%q is also %s: every host needs its own name", n.ID(), prev), g.key, i)
			}
			ids[n.ID()] = here
			t := fmt.Sprintf("%s:%d:%s", n.Address, n.SSH.Port, n.Root)
			if prev, ok := targets[t]; ok {
				return bad(fmt.Sprintf("the same host as %s (address, ssh port and root)", prev), g.key, i)
			}
			targets[t] = here
		}
	}
	if e := c.APIEndpoint; e != "" && !validHost(e) {
		return bad(fmt.Sprintf("%q is not a host name or IP address", e), "apiEndpoint")
	}
	for k := range c.Set {
		if chart, key, ok := strings.Cut(k, "."); !ok || chart == "" || key == "" {
			return bad(fmt.Sprintf("%q: write CHART.KEY: VALUE", k), "set")
		}
	}
	for chart, f := range c.Values {
		if chart == "" || f == "" {
			return bad(fmt.Sprintf("%q: %q: write CHART: FILE", chart, f), "values")
		}
	}
	return nil
}

type badFunc func(msg string, p ...any) error

func checkNode(n Node, bad badFunc, group string, i int) error {
	if n.Address == "" {
		return bad("is required: the host's name or IP address", group, i, "address")
	}
	if !validHost(n.Address) {
		return bad(fmt.Sprintf("%q is not a host name or IP address", n.Address), group, i, "address")
	}
	if !nodeIDRe.MatchString(n.ID()) {
		return bad(fmt.Sprintf("%q: use letters, digits, '.', '_' and '-' (at most 63); it names the host's log file", n.ID()), group, i, "name")
	}
	for j, l := range n.Labels {
		if !labelRe.MatchString(l) {
			return bad(fmt.Sprintf("%q: write key=value", l), group, i, "labels", j)
		}
	}
	for j, t := range n.Taints {
		if !taintRe.MatchString(t) {
			return bad(fmt.Sprintf("%q: write key=value:NoSchedule (or PreferNoSchedule, NoExecute)", t), group, i, "taints", j)
		}
	}
	for _, d := range []struct{ key, v string }{{"root", n.Root}, {"workDir", n.WorkDir}} {
		if d.v != "" && (!path.IsAbs(d.v) || path.Clean(d.v) != d.v || strings.ContainsAny(d.v, "'\"\\\n$`")) {
			return bad(fmt.Sprintf("%q: must be a clean absolute path without quotes", d.v), group, i, d.key)
		}
	}
	if n.WorkDir == "/" {
		return bad("\"/\": deploy owns its work directory and uninstall removes it: name a directory of its own", group, i, "workDir")
	}
	return checkSSH(n.SSH, bad, group, i, "ssh")
}

func checkSSH(s SSH, bad badFunc, p ...any) error {
	at := func(k string) []any { return append(append([]any{}, p...), k) }
	if s.Port < 0 || s.Port > 65535 {
		return bad(fmt.Sprintf("%d is not a TCP port", s.Port), at("port")...)
	}
	if s.User != "" && !nodeIDRe.MatchString(s.User) {
		return bad(fmt.Sprintf("%q is not a user name", s.User), at("user")...)
	}
	if s.JumpHost != "" {
		if _, err := parseJumpHost(s.JumpHost); err != nil {
			return bad(err.Error(), at("jumpHost")...)
		}
	}
	return nil
}

// validHost accepts an IP address or a DNS name: nothing a shell, ssh or
// a URL would read as something else.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	return len(h) <= 253 && hostNameRe.MatchString(h)
}

// target is a host to dial: user, address and port.
type target struct {
	User, Host string
	Port       int
}

func (t target) addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// parseJumpHost reads [USER@]HOST[:PORT]; the port defaults to 22 and the
// user to the host's.
func parseJumpHost(s string) (target, error) {
	t := target{Port: 22}
	if u, rest, ok := strings.Cut(s, "@"); ok {
		t.User, s = u, rest
	}
	host := s
	if h, p, err := net.SplitHostPort(s); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return t, fmt.Errorf("%q: the port is not a number from 1 to 65535", p)
		}
		host, t.Port = h, port
	}
	if !validHost(host) {
		return t, fmt.Errorf("%q is not [USER@]HOST[:PORT]", s)
	}
	t.Host = host
	return t, nil
}

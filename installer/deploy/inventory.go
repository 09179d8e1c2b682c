package deploy

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// invGroup is one Ansible group: its hosts (name to host vars), child
// groups and group vars.
type invGroup struct {
	Hosts    map[string]map[string]any `yaml:"hosts"`
	Children map[string]*invGroup      `yaml:"children"`
	Vars     map[string]any            `yaml:"vars"`
}

// invHost is a host of a group with its merged vars, in file order.
type invHost struct {
	name string
	line int
	vars map[string]any
}

// LoadInventory reads a k3s-ansible inventory (YAML) as it is: the hosts of
// the groups server and agent (at any depth), with ansible_host,
// ansible_user, ansible_port and ansible_ssh_private_key_file, and the vars
// token and api_endpoint. Vars are inherited as Ansible does: parent group,
// then child group, then host. Other vars are ignored; a Jinja template in
// token or api_endpoint is refused or ignored (see the README). The bundle
// and key are not in an inventory: the caller sets them.
func LoadInventory(path string) (*Cluster, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse inventory %s: %w", path, err)
	}
	var top map[string]*invGroup
	if err := doc.Decode(&top); err != nil {
		return nil, fmt.Errorf("parse inventory %s: not a k3s-ansible inventory (groups with hosts, children, vars): %w", path, err)
	}
	groups := map[string][]invHost{}
	names := make([]string, 0, len(top))
	for n := range top {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		collect(n, top[n], nil, groups)
	}
	c := &Cluster{APIVersion: APIVersion, Kind: KindCluster, Path: path, Dir: filepath.Dir(path), FromInventory: true}
	c.Metadata.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	for _, g := range []struct {
		name string
		dst  *[]Node
	}{{"server", &c.Servers}, {"agent", &c.Agents}} {
		hosts := groups[g.name]
		sortByLine(&doc, hosts)
		for _, h := range hosts {
			n, err := inventoryNode(path, h)
			if err != nil {
				return nil, err
			}
			*g.dst = append(*g.dst, n)
			if err := setClusterVars(c, path, h); err != nil {
				return nil, err
			}
		}
	}
	if len(c.Servers) == 0 {
		return nil, fmt.Errorf("inventory %s: no hosts in group server: k3s-ansible's layout is k3s_cluster: {children: {server: {hosts: {...}}, agent: {hosts: {...}}}}", path)
	}
	if err := c.validate(nil); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return c, nil
}

// collect adds the hosts of g (named name) and its children to groups,
// with inherited vars merged below each host's own.
func collect(name string, g *invGroup, inherited map[string]any, groups map[string][]invHost) {
	if g == nil {
		return
	}
	vars := merge(inherited, g.Vars)
	for h, hv := range g.Hosts {
		groups[name] = append(groups[name], invHost{name: h, vars: merge(vars, hv)})
	}
	children := make([]string, 0, len(g.Children))
	for c := range g.Children {
		children = append(children, c)
	}
	sort.Strings(children)
	for _, c := range children {
		collect(c, g.Children[c], vars, groups)
	}
}

func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// sortByLine orders hosts as they appear in the file (the first server
// listed is the first server), using each host key's line.
func sortByLine(doc *yaml.Node, hosts []invHost) {
	lines := map[string]int{}
	var walk func(n *yaml.Node, underHosts bool)
	walk = func(n *yaml.Node, underHosts bool) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if underHosts {
					if _, seen := lines[k.Value]; !seen {
						lines[k.Value] = k.Line
					}
					continue
				}
				walk(n.Content[i+1], k.Value == "hosts")
			}
			return
		}
		for _, c := range n.Content {
			walk(c, false)
		}
	}
	walk(doc, false)
	for i := range hosts {
		hosts[i].line = lines[hosts[i].name]
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].line < hosts[j].line })
}

func inventoryNode(path string, h invHost) (Node, error) {
	n := Node{Name: h.name, Address: h.name}
	str := func(k string) (string, error) {
		v, ok := h.vars[k]
		if !ok || v == nil {
			return "", nil
		}
		switch t := v.(type) {
		case string:
			return t, nil
		case int:
			return strconv.Itoa(t), nil
		}
		return "", fmt.Errorf("inventory %s:%d: host %s: %s is %T, want a string", path, h.line, h.name, k, v)
	}
	var err error
	if a, e := str("ansible_host"); e != nil {
		return n, e
	} else if a != "" {
		n.Address = a
	}
	if n.SSH.User, err = str("ansible_user"); err != nil {
		return n, err
	}
	if n.SSH.IdentityFile, err = str("ansible_ssh_private_key_file"); err != nil {
		return n, err
	}
	p, err := str("ansible_port")
	if err != nil {
		return n, err
	}
	if p != "" {
		if n.SSH.Port, err = strconv.Atoi(p); err != nil {
			return n, fmt.Errorf("inventory %s:%d: host %s: ansible_port %q is not a number", path, h.line, h.name, p)
		}
	}
	if !nodeIDRe.MatchString(n.Name) {
		n.Name = ""
	}
	return n, nil
}

// setClusterVars takes token and api_endpoint from a host's vars (they are
// group vars in k3s-ansible, so every host sees the same ones).
func setClusterVars(c *Cluster, path string, h invHost) error {
	if t, ok := h.vars["token"].(string); ok && t != "" {
		if strings.Contains(t, "{{") {
			return fmt.Errorf("inventory %s: token is a Jinja template (%s), which ferry cannot evaluate: write the token itself, or remove the var and ferry keeps one in %s", path, t, defaultTokenFile(c))
		}
		if c.Token.Value != "" && c.Token.Value != t {
			return fmt.Errorf("inventory %s: host %s has another token than the hosts before it: every host needs the same", path, h.name)
		}
		c.Token.Value = t
	}
	if e, ok := h.vars["api_endpoint"].(string); ok && e != "" && !strings.Contains(e, "{{") {
		c.APIEndpoint = e
	}
	return nil
}

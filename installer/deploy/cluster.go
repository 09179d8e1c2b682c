package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxClusterFileSize bounds the cluster file and the inventory (1 MiB): a
// site file is a few kilobytes, anything larger is a mistake.
const MaxClusterFileSize = 1 << 20

// Cluster is cluster.yaml (SPEC §8): the bundle, the SSH defaults, the
// token and the hosts of one site cluster. Paths in it are relative to
// the file's directory (Dir).
type Cluster struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	// Bundle is the bundle file, or a part (NAME.part001) of a split one.
	Bundle string `yaml:"bundle"`
	// Key is the signer's public key (PEM).
	Key string `yaml:"key"`
	// SSH holds the defaults for every host; a host's ssh overrides them
	// field by field.
	SSH   SSH   `yaml:"ssh"`
	Token Token `yaml:"token"`
	// APIEndpoint is the address (LB or VIP) nodes register with; the
	// first server's address when empty.
	APIEndpoint string `yaml:"apiEndpoint"`
	Datastore   struct {
		// Endpoint is an external datastore URI; embedded etcd when empty.
		Endpoint string `yaml:"endpoint"`
	} `yaml:"datastore"`
	Servers []Node `yaml:"servers"`
	Agents  []Node `yaml:"agents"`
	// ServerArgs and AgentArgs are extra k3s flags (config.yaml keys) for
	// every server or agent, passed as ferry-install --config.
	ServerArgs map[string]any `yaml:"serverArgs"`
	AgentArgs  map[string]any `yaml:"agentArgs"`
	// Set holds site values as CHART.KEY: VALUE, passed as --set.
	Set map[string]any `yaml:"set"`
	// Values maps a chart to a values file, passed as --values CHART=FILE.
	Values map[string]string `yaml:"values"`

	// Path is the file the cluster was read from; Dir its directory.
	Path string `yaml:"-"`
	Dir  string `yaml:"-"`
	// FromInventory is set when Path is a k3s-ansible inventory.
	FromInventory bool `yaml:"-"`
}

// SSH is how to reach a host. Empty fields take the cluster's defaults,
// then: user root, port 22, the ssh-agent, ~/.ssh/known_hosts.
type SSH struct {
	User         string `yaml:"user"`
	Port         int    `yaml:"port"`
	IdentityFile string `yaml:"identityFile"`
	KnownHosts   string `yaml:"knownHosts"`
	// JumpHost is [USER@]HOST[:PORT] of a bastion to go through.
	JumpHost string `yaml:"jumpHost"`
}

// Token says where the cluster token is. File is created 0600 with a
// generated token when missing (default NAME.token beside the cluster
// file). Value is set only from a k3s-ansible inventory's token var.
type Token struct {
	File  string `yaml:"file"`
	Value string `yaml:"-"`
}

// Node is one host of the cluster.
type Node struct {
	// Address is the host's address for SSH and, for the first server,
	// the join URL (unless apiEndpoint is set).
	Address string `yaml:"address"`
	// Name names the host in logs and tables and becomes k3s's node-name
	// when set (default: the address).
	Name   string   `yaml:"name"`
	Labels []string `yaml:"labels"`
	Taints []string `yaml:"taints"`
	SSH    SSH      `yaml:"ssh"`
	// Root installs into this directory on the host instead of / (as
	// ferry-install --root): for preparing disk images, and for tests that
	// play several hosts on one machine.
	Root string `yaml:"root"`
	// WorkDir is where deploy stages ferry-install, the bundle, the key and
	// the token on the host (default /var/lib/ferry-deploy under Root).
	WorkDir string `yaml:"workDir"`
}

// ID is the name used for the host in logs and tables.
func (n Node) ID() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Address
}

// FieldError is a cluster file field that is missing or wrong.
type FieldError struct {
	File  string
	Field string // path such as servers[1].address
	Line  int    // 0 when unknown
	Msg   string
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// LoadCluster reads, parses and validates the cluster file at path. Unknown
// fields are refused; every error names the field and, where it can, the
// line.
func LoadCluster(path string) (*Cluster, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	c := &Cluster{}
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("parse %s: the file is empty", path)
		}
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	c.Path = path
	c.Dir = filepath.Dir(path)
	if err := c.validate(&doc); err != nil {
		return nil, err
	}
	return c, nil
}

// readBounded reads a file of at most MaxClusterFileSize bytes.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxClusterFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxClusterFileSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes: this is not a cluster file", path, MaxClusterFileSize)
	}
	return b, nil
}

// lineOf finds the line of a field path (keys and list indexes) in a
// parsed YAML document; 0 when it is not there.
func lineOf(doc *yaml.Node, path ...any) int {
	n := doc
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, p := range path {
		if n == nil {
			return line
		}
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == k {
						line, next = n.Content[i].Line, n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		n = next
	}
	return line
}

// fieldName renders a field path as servers[1].ssh.port.
func fieldName(path ...any) string {
	var b strings.Builder
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

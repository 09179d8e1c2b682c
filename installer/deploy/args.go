package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ferry-k3s/ferry/manifests"
)

// Names of the files deploy stages in a host's work directory besides the
// bundle's own and ferry-install.
const (
	tokenName  = "token"       // 0600, removed after the install
	configName = "config.yaml" // the host's extra k3s flags (--config)
)

// joinURL is the server URL nodes join: the API endpoint, else the first
// server.
func (c *Cluster) joinURL() string {
	h := c.APIEndpoint
	if h == "" {
		h = c.Servers[0].Address
	}
	return "https://" + net.JoinHostPort(h, "6443")
}

// hostConfig is the host's extra k3s flags: serverArgs or agentArgs, and
// node-name when the host has a name. nil when there are none.
func (c *Cluster) hostConfig(h *Host) ([]byte, error) {
	src := c.AgentArgs
	if h.Role == manifests.RoleServer {
		src = c.ServerArgs
	}
	cfg := map[string]any{}
	for k, v := range src {
		cfg[k] = v
	}
	if h.Node.Name != "" {
		cfg["node-name"] = h.Node.Name
	}
	if len(cfg) == 0 {
		return nil, nil
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: render k3s flags: %w", h.ID, err)
	}
	return b, nil
}

// valuesName is the staged name of chart's values file.
func valuesName(chart string) string { return "values-" + chart + ".yaml" }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// siteArgs are --set and --values, in a stable order.
func (c *Cluster) siteArgs(h *Host) []string {
	var args []string
	for _, k := range sortedKeys(c.Set) {
		args = append(args, "--set", fmt.Sprintf("%s=%v", k, c.Set[k]))
	}
	for _, chart := range sortedKeys(c.Values) {
		args = append(args, "--values", chart+"="+h.path(valuesName(chart)))
	}
	return args
}

// installArgs is the host's ferry-install server or agent command: the
// HA role (first server --cluster-init, or a plain single server, or
// --datastore-endpoint; further servers --join; agents --server), the
// token as a 0600 file, labels, taints, the config file and site values.
func (r *run) installArgs(h *Host, hasConfig bool) []string {
	c := r.c
	args := []string{h.bin(), string(h.Role), "--bundle", h.path(r.bundleName()), "--key", h.path(r.keyName())}
	args = append(args, h.rootArgs()...)
	switch {
	case h.Role == manifests.RoleAgent:
		args = append(args, "--server", c.joinURL())
	case c.Datastore.Endpoint != "":
		args = append(args, "--datastore-endpoint", c.Datastore.Endpoint)
	case h.First && len(c.Servers) > 1:
		args = append(args, "--cluster-init")
	case !h.First:
		args = append(args, "--join", c.joinURL())
	}
	args = append(args, "--token-file", h.path(tokenName))
	if h.Role == manifests.RoleServer && c.APIEndpoint != "" {
		args = append(args, "--tls-san", c.APIEndpoint)
	}
	for _, l := range h.Node.Labels {
		args = append(args, "--node-label", l)
	}
	for _, t := range h.Node.Taints {
		args = append(args, "--node-taint", t)
	}
	if hasConfig {
		args = append(args, "--config", h.path(configName))
	}
	if h.Role == manifests.RoleServer {
		args = append(args, c.siteArgs(h)...)
	}
	if r.opts.SkipPreflight {
		args = append(args, "--skip-preflight")
	}
	return append(args, "--timeout", r.opts.readyTimeout().String())
}

// preflightArgs is the host's ferry-install preflight ROLE --json.
func (r *run) preflightArgs(h *Host) []string {
	args := []string{h.bin(), "preflight", string(h.Role), "--json"}
	args = append(args, h.rootArgs()...)
	if h.Role == manifests.RoleServer && r.c.Datastore.Endpoint == "" {
		if h.First && len(r.c.Servers) > 1 {
			args = append(args, "--cluster-init")
		} else if !h.First {
			args = append(args, "--join", r.c.joinURL())
		}
	}
	return args
}

// settings is the digest of everything that decides h's install; a
// rerun leaves a host whose deployed.json holds the same alone.
func (r *run) settings(h *Host, line string, config []byte) string {
	d := sha256.New()
	fmt.Fprintf(d, "manifest %s\ncommand %s\nconfig %x\n", r.bundle.ManifestSHA256, line, sha256.Sum256(config))
	for _, chart := range sortedKeys(r.c.Values) {
		fmt.Fprintf(d, "values %s %s\n", chart, r.values[chart].SHA256)
	}
	fmt.Fprintf(d, "token %x\n", sha256.Sum256([]byte(r.token)))
	return hex.EncodeToString(d.Sum(nil))
}

// bundleName is the bundle's name on the hosts (the given part for a
// split bundle: ferry-install finds the others beside it).
func (r *run) bundleName() string { return filepath.Base(r.bundlePath) }

// keyName is the key's name on the hosts.
func (r *run) keyName() string { return filepath.Base(r.keyPath) }

func (o *Options) readyTimeout() time.Duration {
	if o.ReadyTimeout > 0 {
		return o.ReadyTimeout
	}
	return 5 * time.Minute
}

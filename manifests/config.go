package manifests

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"
)

// K3sFlagsVersion is the k3s minor release whose `server --help` and
// `agent --help` flag names config.yaml keys are checked against.
const K3sFlagsVersion = "v1.31"

//go:embed k3sflags/*.txt
var flagFiles embed.FS

// secretKeys never go into config.yaml, which is world-readable by
// convention; the env file (mode 0600) carries them instead.
var secretKeys = map[string]string{
	"token":              "pass it as the node token (K3S_TOKEN in the env file)",
	"agent-token":        "set it on the server outside ferry's config (secrets stay out of config.yaml)",
	"datastore-endpoint": "pass it as the datastore endpoint (K3S_DATASTORE_ENDPOINT in the env file)",
}

// OwnedKeys are the k3s flags ferry-install sets itself, or that would
// undo what it placed or contradict the node's role; a site's --config may
// not set them (also in their "+" append form). Each maps to what to do
// instead. The README lists them.
var OwnedKeys = map[string]string{
	"data-dir":                   "ferry places k3s's images, charts and manifests under /var/lib/rancher/k3s, which k3s would then no longer read: remove it",
	"server":                     "use --join (ferry-install server) or --server (ferry-install agent)",
	"cluster-init":               "use ferry-install server --cluster-init (servers only)",
	"tls-san":                    "use --tls-san",
	"node-label":                 "use --node-label",
	"node-taint":                 "use --node-taint",
	"token-file":                 "use --token (it goes into the 0600 env file)",
	"agent-token-file":           "set it on the server outside ferry's config",
	"write-kubeconfig-mode":      "ferry writes the kubeconfig 0600: remove it",
	"private-registry":           "use --registry-mirror (ferry writes /etc/rancher/k3s/registries.yaml)",
	"cluster-reset":              "it is a one-time recovery step: run k3s server --cluster-reset by hand",
	"cluster-reset-restore-path": "it is a one-time recovery step: run k3s server --cluster-reset by hand",
}

// parsedFlags caches the embedded flag lists; it is written once.
var parsedFlags = sync.OnceValues(func() (map[Role]map[string]bool, error) {
	out := make(map[Role]map[string]bool)
	for _, r := range []Role{RoleServer, RoleAgent} {
		name := fmt.Sprintf("k3sflags/%s-%s.txt", r, K3sFlagsVersion)
		b, err := flagFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read embedded flag list %s: %w", name, err)
		}
		out[r] = ParseFlagList(b)
	}
	return out, nil
})

// ParseFlagList reads a flag list: one long flag name a line, without
// leading dashes; blank lines and lines starting with # are skipped.
func ParseFlagList(b []byte) map[string]bool {
	set := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			set[line] = true
		}
	}
	return set
}

// ValidFlags returns the k3s flag names (K3sFlagsVersion) that config.yaml
// accepts for role, sorted.
func ValidFlags(role Role) ([]string, error) {
	all, err := parsedFlags()
	if err != nil {
		return nil, err
	}
	set, ok := all[role]
	if !ok {
		return nil, fmt.Errorf("node role %q is unknown: use %q or %q", role, RoleServer, RoleAgent)
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// Config renders /etc/rancher/k3s/config.yaml: the config template's keys,
// then n.Extra merged over them, written as YAML with sorted keys. Every
// key must be a k3s flag of the node's role (K3sFlagsVersion); secrets
// (token, agent-token, datastore-endpoint) are refused, as is `config`.
func (t *Templates) Config(n Node) ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	v, err := newView(n)
	if err != nil {
		return nil, err
	}
	out, err := t.render(ConfigTemplate, v)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		return nil, fmt.Errorf("render %s: output is not a YAML mapping: %w", ConfigTemplate, err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	if err := checkKeys(n.Role, cfg, "template "+ConfigTemplate); err != nil {
		return nil, err
	}
	if err := checkOwned(n.Extra); err != nil {
		return nil, err
	}
	if err := checkKeys(n.Role, n.Extra, "--config"); err != nil {
		return nil, err
	}
	maps.Copy(cfg, n.Extra)
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config.yaml: %w", err)
	}
	return b, nil
}

// checkOwned refuses the site's keys that ferry-install owns (OwnedKeys)
// and secrets, naming the key and what to use instead.
func checkOwned(extra map[string]any) error {
	for _, key := range slices.Sorted(maps.Keys(extra)) {
		k := strings.TrimSuffix(key, "+")
		if fix, ok := OwnedKeys[k]; ok {
			return fmt.Errorf("--config sets %q, which ferry-install sets itself: %s", key, fix)
		}
		if strings.ContainsAny(key, "\x00\n\r") || len(key) > 128 {
			return fmt.Errorf("--config has a key %.40q that is not a k3s flag name: remove it", key)
		}
	}
	return nil
}

// checkKeys refuses keys that are not k3s flags of role (a trailing "+",
// k3s's append form, is allowed), and secrets.
func checkKeys(role Role, cfg map[string]any, from string) error {
	all, err := parsedFlags()
	if err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(cfg)) {
		// k3s reads "flag+" as "append to flag" in config files.
		k := strings.TrimSuffix(key, "+")
		if fix, ok := secretKeys[k]; ok {
			return fmt.Errorf("%s sets %q, a secret that must not be written to config.yaml: %s", from, k, fix)
		}
		if k == "config" {
			return fmt.Errorf("%s sets \"config\": config.yaml cannot name another config file; merge its keys instead", from)
		}
		if !all[role][k] {
			return fmt.Errorf("%s sets %q, which is not a k3s %s %s flag: remove it or spell it as in `k3s %s --help`", from, key, K3sFlagsVersion, role, role)
		}
	}
	return nil
}

// Registries renders /etc/rancher/k3s/registries.yaml, which points every
// upstream registry at the node's registry mirrors. It reports false, and
// no bytes, when the node has no mirrors and so needs no such file.
func (t *Templates) Registries(n Node) ([]byte, bool, error) {
	if err := n.Validate(); err != nil {
		return nil, false, err
	}
	if len(n.RegistryMirrors) == 0 {
		return nil, false, nil
	}
	v, err := newView(n)
	if err != nil {
		return nil, false, err
	}
	out, err := t.render(RegistriesTemplate, v)
	if err != nil {
		return nil, false, err
	}
	var check map[string]any
	if err := yaml.Unmarshal(out, &check); err != nil {
		return nil, false, fmt.Errorf("render %s: output is not valid YAML: %w", RegistriesTemplate, err)
	}
	return out, true, nil
}

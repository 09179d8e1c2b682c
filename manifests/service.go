package manifests

import (
	"fmt"
	"path"
	"strings"
)

// Unit renders the node's systemd unit: name is "k3s.service" or
// "k3s-agent.service" (placed in SystemdDir). The unit matches the one k3s's
// install script writes; flags live in config.yaml and secrets in the env
// file, never on ExecStart.
func (t *Templates) Unit(n Node) (name string, body []byte, err error) {
	v, err := t.nodeView(n)
	if err != nil {
		return "", nil, err
	}
	body, err = t.render(UnitTemplate, v)
	if err != nil {
		return "", nil, err
	}
	return v.Service + ".service", body, nil
}

// Env renders the env file holding the node's secrets (K3S_TOKEN,
// K3S_DATASTORE_ENDPOINT): name is "k3s.service.env" or
// "k3s-agent.service.env" (placed in SystemdDir at mode 0600). Values are
// quoted so that both systemd and a POSIX shell read them back unchanged.
func (t *Templates) Env(n Node) (name string, body []byte, err error) {
	v, err := t.nodeView(n)
	if err != nil {
		return "", nil, err
	}
	body, err = t.render(EnvTemplate, v)
	if err != nil {
		return "", nil, err
	}
	return v.Service + ".service.env", body, nil
}

// OpenRC renders the init script for hosts without systemd: name is "k3s" or
// "k3s-agent" (placed in OpenRCDir, mode 0755). It runs k3s under
// supervise-daemon with respawn and sources the same env file as the unit.
func (t *Templates) OpenRC(n Node) (name string, body []byte, err error) {
	v, err := t.nodeView(n)
	if err != nil {
		return "", nil, err
	}
	body, err = t.render(OpenRCTemplate, v)
	if err != nil {
		return "", nil, err
	}
	return v.Service, body, nil
}

// Killall renders /usr/local/bin/k3s-killall.sh (mode 0755), which stops
// every k3s service, kills the container shims, unmounts k3s's mounts and
// removes CNI interfaces and rules. It honours K3S_DATA_DIR, defaulting to
// DefaultDataDir.
func (t *Templates) Killall() ([]byte, error) {
	return t.render(KillallTemplate, view{DataDirPath: DefaultDataDir, BinDir: BinDir})
}

// Uninstall renders the uninstall script: name is "k3s-uninstall.sh" or
// "k3s-agent-uninstall.sh" (placed in BinDir, mode 0755). The script stops
// and disables the node's service, runs k3s-killall.sh, and removes exactly
// files (absolute, clean paths of what ferry placed) and nothing else.
func (t *Templates) Uninstall(n Node, files []string) (name string, body []byte, err error) {
	v, err := t.nodeView(n)
	if err != nil {
		return "", nil, err
	}
	for _, f := range files {
		if !path.IsAbs(f) || path.Clean(f) != f || f == "/" || strings.ContainsAny(f, "\n\r\x00") {
			return "", nil, fmt.Errorf("uninstall file %q is not an absolute, clean path of a placed file: list each file ferry placed, e.g. /usr/local/bin/k3s", f)
		}
	}
	v.Files = files
	body, err = t.render(UninstallTemplate, v)
	if err != nil {
		return "", nil, err
	}
	return path.Base(n.UninstallPath()), body, nil
}

// nodeView validates n and builds the template view.
func (t *Templates) nodeView(n Node) (view, error) {
	if err := n.Validate(); err != nil {
		return view{}, err
	}
	return newView(n)
}

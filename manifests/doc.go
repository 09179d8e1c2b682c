// Package manifests owns the bytes of every file Ferry generates for a k3s
// host, rendered from go:embed templates (overridable per bundle, see Load):
// /etc/rancher/k3s/config.yaml (keys checked against k3s's own flag names),
// registries.yaml, the systemd unit and its 0600 env file holding secrets,
// the OpenRC script, k3s-killall.sh and the uninstall script; and the
// HelmChart and HelmChartConfig objects for bundled charts, with the merging
// and checking of their values.
//
// It does no host I/O: the installer decides where and how the files are
// placed. It must stay free of Helm, registry-client and client-go code,
// since it is linked into the static ferry-install binary.
package manifests

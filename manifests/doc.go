// Package manifests owns the files Ferry generates for a k3s host, rendered
// from go:embed templates: config.yaml, registries.yaml, systemd units and
// their env files, OpenRC scripts, the killall and uninstall scripts, and
// the HelmChart and HelmChartConfig objects for bundled charts.
package manifests

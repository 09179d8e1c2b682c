package manifests

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Bounds of a node's site input (flags given at install time).
const (
	// MaxListItems bounds each of --node-label, --node-taint, --tls-san
	// and --registry-mirror (100 values).
	MaxListItems = 100
	maxDNSName   = 253
	maxLabelName = 63
)

var (
	// labelName is a Kubernetes qualified name's name part or a label
	// value: alphanumerics, '-', '_', '.', starting and ending with an
	// alphanumeric.
	labelName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	// dnsLabel is one label of an RFC 1123 DNS name.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// oneLine refuses control characters (a newline would end the value in
// config.yaml's flow list as k3s reads it, and everything after it would
// be dropped or become another key).
func oneLine(flag, v string) error {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q holds a line break or control character: give one value per flag, on one line", flag, v)
		}
	}
	return nil
}

// checkLabelKey checks a Kubernetes label or taint key: [prefix/]name,
// prefix a DNS subdomain of at most 253 bytes, name at most 63.
func checkLabelKey(k string) error {
	prefix, name, ok := strings.Cut(k, "/")
	if !ok {
		prefix, name = "", k
	}
	if ok && checkDNSName(prefix) != nil {
		return fmt.Errorf("key prefix %q is not a DNS subdomain", prefix)
	}
	if len(name) > maxLabelName || !labelName.MatchString(name) {
		return fmt.Errorf("key name %q is not 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", name)
	}
	return nil
}

// checkLabelValue checks a label or taint value: empty, or at most 63
// alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
func checkLabelValue(v string) error {
	if v != "" && (len(v) > maxLabelName || !labelName.MatchString(v)) {
		return fmt.Errorf("value %q is not empty or 1-63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", v)
	}
	return nil
}

// checkDNSName checks an RFC 1123 DNS subdomain (lower case).
func checkDNSName(s string) error {
	if s == "" || len(s) > maxDNSName {
		return fmt.Errorf("%q is not 1-%d bytes", s, maxDNSName)
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) > maxLabelName || !dnsLabel.MatchString(l) {
			return fmt.Errorf("%q is not a DNS name (lower-case labels of letters, digits and '-')", s)
		}
	}
	return nil
}

// CheckLabel checks one --node-label: a Kubernetes label key=value.
func CheckLabel(l string) error {
	if err := oneLine("node label", l); err != nil {
		return err
	}
	k, v, ok := strings.Cut(l, "=")
	if !ok || k == "" {
		return fmt.Errorf("node label %q is not key=value: write it as key=value, e.g. --node-label zone=a", l)
	}
	if err := checkLabelKey(k); err != nil {
		return fmt.Errorf("node label %q: %w: use a Kubernetes label key=value, e.g. topology.kubernetes.io/zone=a", l, err)
	}
	if err := checkLabelValue(v); err != nil {
		return fmt.Errorf("node label %q: %w: use a Kubernetes label key=value, e.g. topology.kubernetes.io/zone=a", l, err)
	}
	return nil
}

// CheckTaint checks one --node-taint: key[=value]:Effect, Effect one of
// NoSchedule, PreferNoSchedule, NoExecute.
func CheckTaint(t string) error {
	if err := oneLine("node taint", t); err != nil {
		return err
	}
	kv, effect, ok := strings.Cut(t, ":")
	k, v, _ := strings.Cut(kv, "=")
	if !ok || k == "" || effect == "" {
		return fmt.Errorf("node taint %q is not key=value:Effect: write it as key=value:NoSchedule (or PreferNoSchedule, NoExecute)", t)
	}
	switch effect {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return fmt.Errorf("node taint %q has effect %q: use NoSchedule, PreferNoSchedule or NoExecute", t, effect)
	}
	if err := checkLabelKey(k); err != nil {
		return fmt.Errorf("node taint %q: %w: write it as key=value:Effect, e.g. dedicated=edge:NoSchedule", t, err)
	}
	if err := checkLabelValue(v); err != nil {
		return fmt.Errorf("node taint %q: %w: write it as key=value:Effect, e.g. dedicated=edge:NoSchedule", t, err)
	}
	return nil
}

// CheckSAN checks one --tls-san: an IP address or a DNS name (a leading
// "*." wildcard label is allowed).
func CheckSAN(s string) error {
	if err := oneLine("tls-san", s); err != nil {
		return err
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	name := strings.TrimPrefix(strings.ToLower(s), "*.")
	if err := checkDNSName(name); err != nil {
		return fmt.Errorf("tls-san %q is neither an IP address nor a DNS name: give one address or name per --tls-san, e.g. --tls-san 10.0.0.100", s)
	}
	return nil
}

// checkList applies check to each value of a list flag, within bounds.
func checkList(flag string, values []string, check func(string) error) error {
	if len(values) > MaxListItems {
		return fmt.Errorf("%d values of %s: at most %d are accepted", len(values), flag, MaxListItems)
	}
	for _, v := range values {
		if err := check(v); err != nil {
			return err
		}
	}
	return nil
}

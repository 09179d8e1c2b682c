package manifests

import (
	"encoding/json"
	"fmt"
	"regexp"

	helmv1 "github.com/k3s-io/helm-controller/pkg/apis/helm.cattle.io/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-k3s/ferry/bundle"
)

// HelmChart object constants: k3s's helm-controller watches HelmChart and
// HelmChartConfig objects in kube-system, and serves chart archives placed
// in the server's static/charts directory at this URL.
const (
	HelmAPIVersion      = "helm.cattle.io/v1"
	HelmNamespace       = "kube-system"
	StaticChartURL      = "https://%{KUBERNETES_API}%/static/charts/"
	TraefikChartName    = "traefik"
	HelmChartKind       = "HelmChart"
	HelmChartConfigKind = "HelmChartConfig"
)

// dns1123 is a Kubernetes object name (RFC 1123 label).
var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// chartVersion is what may appear in an archive name.
var chartVersion = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+_-]*$`)

// HelmChart renders the HelmChart object (helm-controller's v1 API) that
// installs c from the server's static charts: name c.Name in kube-system,
// spec.chart https://%{KUBERNETES_API}%/static/charts/NAME-VERSION.tgz,
// spec.targetNamespace c.Namespace (kube-system when empty), created if
// missing, and spec.valuesContent the YAML of values (omitted when empty).
// values are used as given; merge layers first with MergeValues.
func HelmChart(c bundle.Chart, values map[string]any) ([]byte, error) {
	if !dns1123.MatchString(c.Name) {
		return nil, fmt.Errorf("chart name %q is not a valid Kubernetes name: use lower-case letters, digits and '-'", c.Name)
	}
	if !chartVersion.MatchString(c.Version) {
		return nil, fmt.Errorf("chart %s version %q is empty or has characters not allowed in a file name: use the chart's semantic version", c.Name, c.Version)
	}
	ns := c.Namespace
	if ns == "" {
		ns = HelmNamespace
	}
	if !dns1123.MatchString(ns) {
		return nil, fmt.Errorf("chart %s namespace %q is not a valid Kubernetes name: use lower-case letters, digits and '-'", c.Name, ns)
	}
	content, err := valuesContent(values)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", c.Name, err)
	}
	hc := helmv1.HelmChart{
		TypeMeta:   metav1.TypeMeta{APIVersion: HelmAPIVersion, Kind: HelmChartKind},
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Namespace: HelmNamespace},
		Spec: helmv1.HelmChartSpec{
			Chart:           StaticChartURL + c.Name + "-" + c.Version + ".tgz",
			TargetNamespace: ns,
			CreateNamespace: true,
			ValuesContent:   content,
		},
	}
	return encodeObject(hc)
}

// HelmChartConfig renders the HelmChartConfig "traefik" in kube-system that
// customises k3s's packaged Traefik with values (spec.valuesContent).
func HelmChartConfig(values map[string]any) ([]byte, error) {
	content, err := valuesContent(values)
	if err != nil {
		return nil, fmt.Errorf("traefik: %w", err)
	}
	hcc := helmv1.HelmChartConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: HelmAPIVersion, Kind: HelmChartConfigKind},
		ObjectMeta: metav1.ObjectMeta{Name: TraefikChartName, Namespace: HelmNamespace},
		Spec:       helmv1.HelmChartConfigSpec{ValuesContent: content},
	}
	return encodeObject(hcc)
}

// valuesContent writes values as YAML with sorted keys; empty for no values.
func valuesContent(values map[string]any) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	b, err := yaml.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("encode values: %w", err)
	}
	return string(b), nil
}

// encodeObject writes a typed object as YAML without the empty status and
// creationTimestamp that the API types always carry.
func encodeObject(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	return out, nil
}

package manifests

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	helmv1 "github.com/k3s-io/helm-controller/pkg/apis/helm.cattle.io/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-k3s/ferry/bundle"
)

func TestHelmChart(t *testing.T) {
	tests := []struct {
		name       string
		chart      bundle.Chart
		values     map[string]any
		wantNS     string
		wantValues map[string]any
		golden     string
	}{
		{
			name:       "nfs",
			chart:      bundle.Chart{Name: "nfs-subdir-external-provisioner", Version: "4.0.18", Namespace: "nfs-provisioner", Required: []string{"nfs.server", "nfs.path"}},
			values:     map[string]any{"nfs": map[string]any{"server": "192.0.2.50", "path": "/export"}, "replicaCount": 2},
			wantNS:     "nfs-provisioner",
			wantValues: map[string]any{"nfs": map[string]any{"server": "192.0.2.50", "path": "/export"}, "replicaCount": float64(2)},
			golden:     "nfs-subdir-external-provisioner.yaml",
		},
		{
			name:   "no values, default namespace",
			chart:  bundle.Chart{Name: "longhorn", Version: "1.7.2"},
			wantNS: "kube-system",
			golden: "longhorn.yaml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := HelmChart(tt.chart, tt.values)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, "helm", tt.golden, b)
			var hc helmv1.HelmChart
			if err := yaml.UnmarshalStrict(b, &hc); err != nil {
				t.Fatalf("decode into helm-controller v1.HelmChart: %v", err)
			}
			wantChart := "https://%{KUBERNETES_API}%/static/charts/" + tt.chart.Name + "-" + tt.chart.Version + ".tgz"
			checks := []struct {
				field     string
				got, want any
			}{
				{"apiVersion", hc.APIVersion, "helm.cattle.io/v1"},
				{"kind", hc.Kind, "HelmChart"},
				{"metadata.name", hc.Name, tt.chart.Name},
				{"metadata.namespace", hc.Namespace, "kube-system"},
				{"spec.chart", hc.Spec.Chart, wantChart},
				{"spec.targetNamespace", hc.Spec.TargetNamespace, tt.wantNS},
				{"spec.createNamespace", hc.Spec.CreateNamespace, true},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
				}
			}
			if tt.wantValues == nil {
				if hc.Spec.ValuesContent != "" {
					t.Errorf("valuesContent = %q, want empty", hc.Spec.ValuesContent)
				}
				return
			}
			var got map[string]any
			if err := yaml.Unmarshal([]byte(hc.Spec.ValuesContent), &got); err != nil {
				t.Fatalf("valuesContent is not YAML: %v", err)
			}
			if !reflect.DeepEqual(got, tt.wantValues) {
				t.Errorf("valuesContent = %v, want %v", got, tt.wantValues)
			}
		})
	}
}

func TestHelmChartRejects(t *testing.T) {
	tests := []struct {
		name  string
		chart bundle.Chart
		want  string
	}{
		{"empty name", bundle.Chart{Version: "1.0.0"}, "chart name"},
		{"upper-case name", bundle.Chart{Name: "Longhorn", Version: "1.0.0"}, "chart name"},
		{"empty version", bundle.Chart{Name: "longhorn"}, "version"},
		{"path in version", bundle.Chart{Name: "longhorn", Version: "../1"}, "version"},
		{"bad namespace", bundle.Chart{Name: "longhorn", Version: "1.0.0", Namespace: "Longhorn_System"}, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HelmChart(tt.chart, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestHelmChartConfig(t *testing.T) {
	values := map[string]any{"ports": map[string]any{"web": map[string]any{"nodePort": 30080}}}
	b, err := HelmChartConfig(values)
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "helm", "traefik-config.yaml", b)
	var hcc helmv1.HelmChartConfig
	if err := yaml.UnmarshalStrict(b, &hcc); err != nil {
		t.Fatalf("decode into helm-controller v1.HelmChartConfig: %v", err)
	}
	if hcc.APIVersion != "helm.cattle.io/v1" || hcc.Kind != "HelmChartConfig" || hcc.Name != "traefik" || hcc.Namespace != "kube-system" {
		t.Errorf("object header = %s %s %s/%s, want helm.cattle.io/v1 HelmChartConfig kube-system/traefik", hcc.APIVersion, hcc.Kind, hcc.Namespace, hcc.Name)
	}
	if !strings.Contains(hcc.Spec.ValuesContent, "nodePort: 30080") {
		t.Errorf("valuesContent = %q, want the traefik values", hcc.Spec.ValuesContent)
	}
}

func TestMergeValues(t *testing.T) {
	defaults := map[string]any{"replicas": 1, "nfs": map[string]any{"server": "", "path": "/default", "opts": []any{"a"}}, "keep": "d"}
	spec := map[string]any{"replicas": 2, "nfs": map[string]any{"path": "/spec"}}
	site := map[string]any{"nfs": map[string]any{"server": "192.0.2.50", "opts": []any{"b"}}, "extra": map[string]any{"x": 1}}
	got := MergeValues(defaults, nil, spec, site)
	want := map[string]any{
		"replicas": 2,
		"nfs":      map[string]any{"server": "192.0.2.50", "path": "/spec", "opts": []any{"b"}},
		"keep":     "d",
		"extra":    map[string]any{"x": 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergeValues = %v, want %v", got, want)
	}
	// The inputs are untouched and not aliased by the result.
	got["nfs"].(map[string]any)["path"] = "/changed"
	got["extra"].(map[string]any)["x"] = 2
	if defaults["nfs"].(map[string]any)["path"] != "/default" || spec["nfs"].(map[string]any)["path"] != "/spec" || site["extra"].(map[string]any)["x"] != 1 {
		t.Errorf("MergeValues result aliases its inputs: %v %v %v", defaults, spec, site)
	}
	// A scalar replaces a map, and a map replaces a scalar.
	got = MergeValues(map[string]any{"a": map[string]any{"b": 1}, "c": 1}, map[string]any{"a": "flat", "c": map[string]any{"d": 2}})
	if !reflect.DeepEqual(got, map[string]any{"a": "flat", "c": map[string]any{"d": 2}}) {
		t.Errorf("type change merge = %v", got)
	}
	if got := MergeValues(); got == nil || len(got) != 0 {
		t.Errorf("MergeValues() = %v, want empty map", got)
	}
}

func TestCheckRequired(t *testing.T) {
	values := map[string]any{"nfs": map[string]any{"server": "192.0.2.50", "path": ""}, "flat": "x", "zero": 0, "off": false}
	tests := []struct {
		name     string
		required []string
		missing  []string
	}{
		{"all present", []string{"nfs.server", "flat", "zero", "off"}, nil},
		{"empty string and absent", []string{"nfs.server", "nfs.path", "nfs.share"}, []string{"nfs.path", "nfs.share"}},
		{"through a scalar", []string{"flat.x"}, []string{"flat.x"}},
		{"malformed path", []string{"nfs..server", ""}, []string{"nfs..server", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRequired(values, tt.required)
			if tt.missing == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var me *MissingValuesError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want *MissingValuesError", err)
			}
			if !reflect.DeepEqual(me.Paths, tt.missing) {
				t.Errorf("missing = %q, want %q", me.Paths, tt.missing)
			}
		})
	}
}

func TestCheckRequiredMessage(t *testing.T) {
	c := bundle.Chart{Name: "nfs-subdir-external-provisioner", Required: []string{"nfs.server", "nfs.path"}}
	err := CheckChart(c, map[string]any{})
	want := "chart nfs-subdir-external-provisioner is missing required values nfs.server, nfs.path: " +
		"supply them with --set nfs-subdir-external-provisioner.nfs.server=VALUE --set nfs-subdir-external-provisioner.nfs.path=VALUE, " +
		"or with --values nfs-subdir-external-provisioner=FILE"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	err = CheckRequired(nil, []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "--set CHART.a=VALUE") || !strings.Contains(err.Error(), "--values CHART=FILE") {
		t.Errorf("err = %v, want the generic fix", err)
	}
	if err := CheckChart(c, map[string]any{"nfs": map[string]any{"server": "s", "path": "/p"}}); err != nil {
		t.Errorf("complete values: %v", err)
	}
}

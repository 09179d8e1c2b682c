package charts

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// RenderOptions are the inputs of a client-only render.
type RenderOptions struct {
	// ReleaseName is the Helm release name. Default: the chart name.
	ReleaseName string
	// Namespace is the release namespace. Default: "default".
	Namespace string
	// KubeVersion is the Kubernetes version templates see, e.g. "v1.31.4".
	// Default: the Helm SDK's built-in version.
	KubeVersion string
	// Values override the chart's values.yaml (deep-merged by Helm).
	Values map[string]any
	// APIVersions are added to the capabilities templates see; the built-in
	// Kubernetes groups and common CRD groups (extraAPIVersions) are always
	// present.
	APIVersions []string
	// Limits bound the render; the zero value of each is its default.
	Limits Limits
}

// extraAPIVersions are CRD API groups that common charts probe with
// .Capabilities.APIVersions.Has before rendering optional objects.
var extraAPIVersions = []string{
	"apiextensions.k8s.io/v1",
	"admissionregistration.k8s.io/v1",
	"policy/v1",
	"networking.k8s.io/v1",
	"storage.k8s.io/v1",
	"snapshot.storage.k8s.io/v1",
	"monitoring.coreos.com/v1",
	"cert-manager.io/v1",
	"gateway.networking.k8s.io/v1",
	"traefik.io/v1alpha1",
	"traefik.containo.us/v1alpha1",
	"helm.cattle.io/v1",
	"k3s.cattle.io/v1",
}

// templatePath finds the failing template in a Helm engine error, e.g.
// "execution error at (longhorn/templates/x.yaml:8:16): ...".
var templatePath = regexp.MustCompile(`[A-Za-z0-9_.-]+(?:/charts/[A-Za-z0-9_.-]+)*/templates/[^\s:()"]+`)

// Render templates the chart archive at archivePath client-side, as
// `helm template --include-crds` would, and returns every rendered object
// (CRDs, manifests and hooks) as one multi-document YAML stream. No cluster
// is contacted.
//
// Helm's template engine cannot be stopped, and a template can loop or
// repeat without end, so the render runs in a child process (see
// worker.go) bounded by opts.Limits: it is killed when it runs too long,
// writes too much or needs too much memory, and at once when ctx is done.
// Each bound has its own one-line error naming the chart and the flag
// that raises it.
func Render(ctx context.Context, archivePath string, opts RenderOptions) ([]byte, error) {
	return renderIsolated(ctx, archivePath, opts)
}

// renderInProcess is the render itself, run by the child process.
func renderInProcess(ctx context.Context, archivePath string, opts RenderOptions) ([]byte, error) {
	ch, err := loader.Load(archivePath)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: load: %w", archivePath, err)
	}
	id := ch.Metadata.Name + " " + ch.Metadata.Version

	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.IncludeCRDs = true
	install.Replace = true
	install.ReleaseName = opts.ReleaseName
	if install.ReleaseName == "" {
		install.ReleaseName = ch.Metadata.Name
	}
	install.Namespace = opts.Namespace
	if install.Namespace == "" {
		install.Namespace = "default"
	}
	if opts.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("render chart %s: kube version %q: %w: pass a version like v1.31.4", id, opts.KubeVersion, err)
		}
		install.KubeVersion = kv
	}
	install.APIVersions = append(append(chartutil.VersionSet{}, extraAPIVersions...), opts.APIVersions...)

	// Helm merges into the map it is given; render from a copy so the
	// caller's values stay as they were.
	values, _ := copyValue(opts.Values).(map[string]any)
	if values == nil {
		values = map[string]any{}
	}
	rel, err := install.RunWithContext(ctx, ch, values)
	if err != nil {
		if tpl := templatePath.FindString(err.Error()); tpl != "" {
			return nil, fmt.Errorf("render chart %s: template %s: %w", id, tpl, err)
		}
		return nil, fmt.Errorf("render chart %s: %w", id, err)
	}

	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		if !strings.HasSuffix(b.String(), "\n") && b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return []byte(b.String()), nil
}

// copyValue deep-copies the maps and slices of a values tree.
func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = copyValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}

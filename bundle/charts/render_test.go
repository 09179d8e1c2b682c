package charts

import (
	"context"
	"slices"
	"strings"
	"testing"
)

func TestRenderImages(t *testing.T) {
	longhorn := packageFixture(t, "longhorn-shaped", t.TempDir())
	nfs := packageFixture(t, "nfs-shaped", t.TempDir())
	tests := []struct {
		name    string
		archive string
		opts    RenderOptions
		want    []string
	}{
		{
			name:    "longhorn-shaped defaults",
			archive: longhorn,
			opts:    RenderOptions{ReleaseName: "longhorn", Namespace: "longhorn-system", KubeVersion: "v1.31.4"},
			want: []string{
				"docker.io/library/busybox:1.36",                        // initContainer
				"docker.io/longhornio/csi-attacher:v4.6.1",              // env value only
				"docker.io/longhornio/longhorn-engine:v1.7.2",           // args only
				"docker.io/longhornio/longhorn-instance-manager:v1.7.2", // args only
				"docker.io/longhornio/longhorn-manager:v1.7.2",          // containers
				"docker.io/longhornio/longhorn-share-manager:v1.7.2",    // --flag=value arg
				"docker.io/longhornio/support-bundle-kit:v0.0.42",       // ConfigMap data only
			},
		},
		{
			name:    "longhorn-shaped values move the tags",
			archive: longhorn,
			opts: RenderOptions{Values: map[string]any{"image": map[string]any{
				"longhorn": map[string]any{"engine": map[string]any{"tag": "v1.7.3"}},
				"tools":    map[string]any{"repository": "registry.example.com/mirror/busybox"},
			}}},
			want: []string{
				"docker.io/longhornio/csi-attacher:v4.6.1",
				"docker.io/longhornio/longhorn-engine:v1.7.3",
				"docker.io/longhornio/longhorn-instance-manager:v1.7.2",
				"docker.io/longhornio/longhorn-manager:v1.7.2",
				"docker.io/longhornio/longhorn-share-manager:v1.7.2",
				"docker.io/longhornio/support-bundle-kit:v0.0.42",
				"registry.example.com/mirror/busybox:1.36",
			},
		},
		{
			name:    "nfs-shaped with server set",
			archive: nfs,
			opts:    RenderOptions{Namespace: "nfs", Values: map[string]any{"nfs": map[string]any{"server": "10.0.0.9", "path": "/export/k3s"}}},
			want:    []string{"registry.k8s.io/sig-storage/nfs-subdirectory-external-provisioner:v4.0.2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Render(context.Background(), tt.archive, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Images(out)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Images =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestRenderManifests(t *testing.T) {
	nfs := packageFixture(t, "nfs-shaped", t.TempDir())
	out, err := Render(context.Background(), nfs, RenderOptions{ReleaseName: "site", Namespace: "storage",
		Values: map[string]any{"nfs": map[string]any{"server": "10.0.0.9"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: site-nfs-subdir-external-provisioner", "namespace: storage", `value: "10.0.0.9"`, "kind: StorageClass", `value: "/nfs-storage"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered manifests lack %q:\n%s", want, out)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	broken := packageFixture(t, "broken", t.TempDir())
	nfs := packageFixture(t, "nfs-shaped", t.TempDir())
	tests := []struct {
		name, archive string
		opts          RenderOptions
		want          []string
	}{
		{"required value in broken chart", broken, RenderOptions{},
			[]string{"render chart broken 0.1.0: template broken/templates/pod.yaml: ", "image is required"}},
		{"required nfs.server", nfs, RenderOptions{},
			[]string{"render chart nfs-shaped 4.0.18: template nfs-shaped/templates/deployment.yaml: ", "set nfs.server"}},
		{"bad kube version", nfs, RenderOptions{KubeVersion: "one"}, []string{"kube version \"one\""}},
		{"missing archive", "/nonexistent/chart.tgz", RenderOptions{}, []string{"render chart /nonexistent/chart.tgz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), tt.archive, tt.opts)
			if err == nil {
				t.Fatal("Render succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRenderKeepsCallerValues(t *testing.T) {
	nfs := packageFixture(t, "nfs-shaped", t.TempDir())
	values := map[string]any{"nfs": map[string]any{"server": "10.0.0.9"}}
	if _, err := Render(context.Background(), nfs, RenderOptions{Values: values}); err != nil {
		t.Fatal(err)
	}
	nfsValues := values["nfs"].(map[string]any)
	if len(values) != 1 || len(nfsValues) != 1 || nfsValues["server"] != "10.0.0.9" {
		t.Errorf("Render changed the caller's values: %v", values)
	}
}

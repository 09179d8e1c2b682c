package charts

import (
	"slices"
	"strings"
	"testing"
)

func TestImages(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"pod with all container lists", `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: init, image: "busybox:1.36"}]
  containers: [{name: app, image: nginx}]
  ephemeralContainers: [{name: debug, image: "ghcr.io/org/debug:v1"}]
`, []string{"docker.io/library/busybox:1.36", "docker.io/library/nginx:latest", "ghcr.io/org/debug:v1"}},
		{"workload kinds", `
kind: Deployment
spec: {template: {spec: {containers: [{name: a, image: "a/deploy:1"}]}}}
---
kind: StatefulSet
spec: {template: {spec: {containers: [{name: a, image: "a/sts:1"}]}}}
---
kind: DaemonSet
spec: {template: {spec: {initContainers: [{name: a, image: "a/ds-init:1"}], containers: [{name: b, image: "a/ds:1"}]}}}
---
kind: ReplicaSet
spec: {template: {spec: {containers: [{name: a, image: "a/rs:1"}]}}}
---
kind: ReplicationController
spec: {template: {spec: {containers: [{name: a, image: "a/rc:1"}]}}}
---
kind: Job
spec: {template: {spec: {containers: [{name: a, image: "a/job:1"}]}}}
---
kind: CronJob
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: "a/cron:1"}]}}}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
spec: {template: {spec: {containers: [{name: a, image: "a/custom:1"}]}}}
`, []string{"docker.io/a/cron:1", "docker.io/a/custom:1", "docker.io/a/deploy:1", "docker.io/a/ds-init:1", "docker.io/a/ds:1",
			"docker.io/a/job:1", "docker.io/a/rc:1", "docker.io/a/rs:1", "docker.io/a/sts:1"}},
		{"args, command and env", `
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: m
          image: longhornio/longhorn-manager:v1.7.2
          command: ["longhorn-manager", "--engine-image=longhornio/longhorn-engine:v1.7.2"]
          args: ["--instance-manager-image", "longhornio/longhorn-instance-manager:v1.7.2", "--url", "http://x:9500/v1", "/var/lib/a:b"]
          env:
            - {name: ATTACHER, value: "registry.k8s.io/sig-storage/csi-attacher:v4.6.1"}
            - {name: PORT, value: "9500"}
            - {name: HOST, value: "localhost:9500"}
            - name: FROM_FIELD
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
`, []string{"docker.io/longhornio/longhorn-engine:v1.7.2", "docker.io/longhornio/longhorn-instance-manager:v1.7.2",
			"docker.io/longhornio/longhorn-manager:v1.7.2", "registry.k8s.io/sig-storage/csi-attacher:v4.6.1"}},
		{"configmap data", `
kind: ConfigMap
metadata: {name: c}
data:
  settings.yaml: |
    image: longhornio/backing-image-manager:v1.7.2
    url: https://example.com/x:y
  plain: "true"
`, []string{"docker.io/longhornio/backing-image-manager:v1.7.2"}},
		{"secret and service are not scanned", `
kind: Secret
stringData: {image: "a/secret:1"}
---
kind: Service
spec: {template: {}, selector: {app: "a/b:1"}}
`, nil},
		{"list of objects", `
kind: List
items:
  - kind: Pod
    spec: {containers: [{name: a, image: "a/in-list:1"}]}
`, []string{"docker.io/a/in-list:1"}},
		{"duplicates and digests", `
kind: Pod
spec:
  containers:
    - {name: a, image: "docker.io/library/nginx:1.27"}
    - {name: b, image: "nginx:1.27"}
    - {name: c, image: "quay.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
`, []string{"docker.io/library/nginx:1.27", "quay.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{"empty and comment documents", "---\n# just a comment\n---\n\n---\n", nil},
		{"json document", `{"kind":"Pod","spec":{"containers":[{"name":"a","image":"a/json:1"}]}}`, []string{"docker.io/a/json:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Images([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Images =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestImagesErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"invalid container image", "kind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: [{name: app, image: \"Bad Image\"}]}}}\n",
			`manifest document 1: Deployment/d containers "app": image "Bad Image" is not a valid reference`},
		{"empty container image", "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: app, image: \"\"}]}\n", `Pod/p containers "app"`},
		{"malformed yaml", "kind: Pod\n---\nkind: [unclosed\n", "parse manifest document 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Images([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzImages(f *testing.F) {
	f.Add([]byte("kind: Pod\nspec: {containers: [{name: a, image: nginx, args: [\"--x=a/b:1\"]}]}\n"))
	f.Add([]byte("kind: ConfigMap\ndata: {a: \"foo/bar:1 http://x/y:2 /p:q\"}\n---\nkind: List\nitems: [{kind: CronJob}]\n"))
	f.Add([]byte("kind: Deployment\nspec: {template: {spec: {containers: [7, {image: 3}, {env: [1, {value: [1]}]}]}}}\n"))
	f.Add([]byte("{\"kind\":\"Pod\",\"spec\":[]}"))
	f.Add([]byte("---\n- a\n- b\n---\n&a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Images(data)
		if err != nil {
			return
		}
		if !slices.IsSorted(got) {
			t.Errorf("Images(%q) not sorted: %q", data, got)
		}
		for _, ref := range got {
			if _, err := normalizeImage(ref); err != nil {
				t.Errorf("Images(%q) returned %q, which does not parse: %v", data, ref, err)
			}
		}
	})
}

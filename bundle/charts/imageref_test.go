package charts

import (
	"slices"
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestImageLike(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" means not an image
	}{
		// images
		{"longhornio/longhorn-engine:v1.7.2", "docker.io/longhornio/longhorn-engine:v1.7.2"},
		{"docker.io/longhornio/longhorn-engine:v1.7.2", "docker.io/longhornio/longhorn-engine:v1.7.2"},
		{"index.docker.io/longhornio/longhorn-engine:v1.7.2", "docker.io/longhornio/longhorn-engine:v1.7.2"},
		{"library/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"registry.k8s.io/sig-storage/nfs-subdirectory-external-provisioner:v4.0.2", "registry.k8s.io/sig-storage/nfs-subdirectory-external-provisioner:v4.0.2"},
		{"localhost:5000/team/app:1.0", "localhost:5000/team/app:1.0"},
		{"10.0.0.5:5000/app:2", "10.0.0.5:5000/app:2"},
		{"foo@" + testDigest, "docker.io/library/foo@" + testDigest},
		{"ghcr.io/org/app:v1@" + testDigest, "ghcr.io/org/app:v1@" + testDigest},
		{"quay.io/org/app@" + testDigest, "quay.io/org/app@" + testDigest},
		// Known false positive: "namespace/service:port" is spelled exactly
		// like an image; the spec's images.exclude removes such entries.
		{"longhorn-system/longhorn-backend:9500", "docker.io/longhorn-system/longhorn-backend:9500"},
		// plain words and values
		{"", ""},
		{"true", ""},
		{"longhorn", ""},
		{"nginx", ""},
		{"nginx:1.27", ""}, // no repository path: indistinguishable from host:port
		{"v1.7.2", ""},
		{"12:30", ""},
		// host:port without a repository path
		{"localhost:8080", ""},
		{"longhorn-backend.longhorn-system.svc:9500", ""},
		{"10.0.0.1:2049", ""},
		{"longhorn-backend:9500/v1", ""}, // no tag
		// URLs with schemes
		{"http://longhorn-backend:9500/v1", ""},
		{"https://registry.example.com/app:1", ""},
		{"unix:///var/run/docker.sock", ""},
		{"tcp://10.0.0.1:2375", ""},
		// file paths
		{"/var/lib/longhorn", ""},
		{"/usr/bin/app:1", ""},
		{"./config/app:1", ""},
		{"../x/y:z", ""},
		{"~/app:1", ""},
		{"data/", ""},
		// flags
		{"--engine-image", ""},
		{"-v", ""},
		{"--image=foo/bar:1", ""}, // whole flag: the text scanner splits on "=" first
		// no tag, or not a reference
		{"longhornio/longhorn-engine", ""},
		{"application/json", ""},
		{"Longhornio/Longhorn-Engine:v1", ""}, // upper case repository
		{"foo/bar:", ""},
		{"foo/bar:bad tag", ""},
		{"foo@sha256:short", ""},
		{"foo@md5:0123", ""},
		{"{{ .Values.image }}", ""},
		{"$(IMAGE)", ""},
		{"a:b/c:d", ""},
		{"C:/Windows/app:1", ""},
		{"user@example.com", ""},
		{strings.Repeat("a/", 300) + "b:1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := imageLike(tt.in)
			if ok != (tt.want != "") || got != tt.want {
				t.Errorf("imageLike(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestImagesInText(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"flag with equals", "--engine-image=longhornio/longhorn-engine:v1.7.2", []string{"docker.io/longhornio/longhorn-engine:v1.7.2"}},
		{"env style", "IMAGE=ghcr.io/org/app:v2", []string{"ghcr.io/org/app:v2"}},
		{"shell line", "exec /bin/run --image 'quay.io/org/tool:1.0' --url http://x.example/y:1 --port=8080",
			[]string{"quay.io/org/tool:1.0"}},
		{"yaml text", "engine:\n  image: longhornio/longhorn-engine:v1.7.2\nurl: https://a.example/b:c\n",
			[]string{"docker.io/longhornio/longhorn-engine:v1.7.2"}},
		{"json text", `{"image":"longhornio/backing-image-manager:v1.7.2","replicas":3}`,
			[]string{"docker.io/longhornio/backing-image-manager:v1.7.2"}},
		{"sentence end", "use longhornio/share-manager:v1.7.2.", []string{"docker.io/longhornio/share-manager:v1.7.2"}},
		{"nothing", "mount /var/lib/longhorn on 10.0.0.1:2049 with nfs v4.1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imagesInText(tt.text); !slices.Equal(got, tt.want) {
				t.Errorf("imagesInText(%q) = %q; want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestNormalizeImage(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.27", "docker.io/library/nginx:1.27"},
		{"docker.io/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"},
		{"nginx:1.27@" + testDigest, "docker.io/library/nginx:1.27@" + testDigest},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := normalizeImage(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("normalizeImage(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", " nginx", "Nginx:1", "a b", "foo@sha256:zz"} {
		if got, err := normalizeImage(bad); err == nil {
			t.Errorf("normalizeImage(%q) = %q; want an error", bad, got)
		}
	}
}

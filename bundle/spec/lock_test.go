package spec

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func hex64(c string) string { return strings.Repeat(c, 64) }

func sampleLock() *Lock {
	return &Lock{
		Version: LockVersion,
		K3s: []LockedAsset{
			{Arch: "arm64", Name: "k3s-arm64", URL: "https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s-arm64", SHA256: hex64("1"), Size: 70_000_000},
			{Arch: "amd64", Name: "k3s", URL: "https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s", SHA256: hex64("2"), Size: 72_000_000},
			{Arch: "amd64", Name: "k3s-airgap-images-amd64.tar.zst", URL: "https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s-airgap-images-amd64.tar.zst", SHA256: hex64("3"), Size: 160_000_000},
		},
		Charts: []LockedChart{
			{Name: "nfs-subdir-external-provisioner", Version: "4.0.18", Repo: "https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner", SHA256: hex64("4")},
			{Name: "longhorn", Version: "1.7.2", Repo: "https://charts.longhorn.io", SHA256: hex64("5")},
		},
		Images: []LockedImage{
			{Ref: "docker.io/library/nginx:1.27", Arch: "arm64", Digest: "sha256:" + hex64("a")},
			{Ref: "docker.io/library/nginx:1.27", Arch: "amd64", Digest: "sha256:" + hex64("b")},
			{Ref: "longhornio/longhorn-manager:v1.7.2", Arch: "amd64", Digest: "sha256:" + hex64("c")},
		},
		Files: []LockedAsset{
			{Name: "k3s-selinux.rpm", URL: "https://example.com/k3s-selinux.rpm", SHA256: hex64("d"), Size: 22_000},
		},
	}
}

func TestLockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockName)
	l := sampleLock()
	before := *l
	if err := l.Write(path); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*l, before) {
		t.Error("Write modified the lock")
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(first, []byte("}\n")) || !bytes.Contains(first, []byte("\n  \"charts\": [\n    {\n      \"name\": \"longhorn\"")) {
		t.Errorf("lock is not sorted, indented JSON with a trailing newline:\n%s", first)
	}
	read, err := ReadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := read.Diff(l); d != nil {
		t.Errorf("read lock differs: %v", d)
	}
	if err := read.Write(path); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("round trip changed the bytes:\n%s\n---\n%s", first, second)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v", st.Mode(), err)
	}
}

func TestLockEmptyIsDeterministic(t *testing.T) {
	b, err := (&Lock{}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"version\": 1,\n  \"k3s\": [],\n  \"charts\": [],\n  \"images\": [],\n  \"files\": []\n}\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestReadLockErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLock(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	tests := []struct {
		name, data, want string
	}{
		{"version", `{"version": 2}`, "lock version 2 is not supported"},
		{"unknown field", `{"version": 1, "extra": true}`, `unknown field "extra"`},
		{"bad json", `{"version": 1`, "decode:"},
		{"trailing data", `{"version": 1} {}`, "data after the lock object"},
		{"bad sha256", `{"version": 1, "charts": [{"name": "a", "version": "1.0.0", "repo": "x", "sha256": "ABC"}]}`, `chart a 1.0.0: sha256 "ABC" is not 64 lowercase hex digits`},
		{"bad digest", `{"version": 1, "images": [{"ref": "nginx", "arch": "amd64", "digest": "` + hex64("a") + `"}]}`, "is not sha256: and 64 lowercase hex digits"},
		{"duplicate image", `{"version": 1, "images": [{"ref": "nginx", "arch": "amd64", "digest": "sha256:` + hex64("a") + `"}, {"ref": "nginx", "arch": "amd64", "digest": "sha256:` + hex64("b") + `"}]}`, "image nginx (amd64) is listed twice"},
		{"negative size", `{"version": 1, "files": [{"name": "a", "url": "u", "sha256": "` + hex64("a") + `", "size": -1}]}`, "negative size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadLock(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error = %v, want it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
}

func TestLockWriteRefusesInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockName)
	l := sampleLock()
	l.Images[0].Digest = "latest"
	if err := l.Write(path); err == nil {
		t.Fatal("Write accepted a bad digest")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Write left a file: %v", err)
	}
}

func TestLockDiff(t *testing.T) {
	tests := []struct {
		name   string
		change func(l *Lock)
		want   []string
	}{
		{"same", func(l *Lock) {}, nil},
		{"same in another order", func(l *Lock) {
			l.Images[0], l.Images[2] = l.Images[2], l.Images[0]
			l.K3s[0], l.K3s[1] = l.K3s[1], l.K3s[0]
		}, nil},
		{"image digest", func(l *Lock) { l.Images[0].Digest = "sha256:" + hex64("e") }, []string{
			"image docker.io/library/nginx:1.27 (arm64): locked sha256:" + hex64("a") + ", resolved sha256:" + hex64("e"),
		}},
		{"image added and removed", func(l *Lock) {
			l.Images[2].Ref = "longhornio/longhorn-manager:v1.7.3"
		}, []string{
			"image longhornio/longhorn-manager:v1.7.2 (amd64): in the lock but no longer resolved",
			"image longhornio/longhorn-manager:v1.7.3 (amd64): resolved but not in the lock",
		}},
		{"chart version", func(l *Lock) { l.Charts[1].Version = "1.7.3"; l.Charts[1].SHA256 = hex64("6") }, []string{
			"chart longhorn: locked version 1.7.2, resolved 1.7.3",
		}},
		{"chart digest and repo", func(l *Lock) {
			l.Charts[0].SHA256 = hex64("6")
			l.Charts[0].Repo = "oci://registry.example/charts"
		}, []string{
			"chart nfs-subdir-external-provisioner 4.0.18: locked repo https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner, resolved oci://registry.example/charts",
			"chart nfs-subdir-external-provisioner 4.0.18: locked sha256:" + hex64("4") + ", resolved sha256:" + hex64("6"),
		}},
		{"chart removed", func(l *Lock) { l.Charts = l.Charts[:1] }, []string{
			"chart longhorn 1.7.2: in the lock but no longer resolved",
		}},
		{"k3s binary", func(l *Lock) { l.K3s[1].SHA256 = hex64("9") }, []string{
			"k3s asset k3s (amd64): locked sha256:" + hex64("2") + ", resolved sha256:" + hex64("9"),
		}},
		{"k3s url and size", func(l *Lock) {
			l.K3s[0].URL = "https://mirror.example/k3s-arm64"
			l.K3s[0].Size++
		}, []string{
			"k3s asset k3s-arm64 (arm64): locked URL https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s-arm64, resolved https://mirror.example/k3s-arm64",
			"k3s asset k3s-arm64 (arm64): locked size 70000000 bytes, resolved 70000001",
		}},
		{"k3s arch added", func(l *Lock) {
			l.K3s = append(l.K3s, LockedAsset{Arch: "arm", Name: "k3s-armhf", URL: "u", SHA256: hex64("7"), Size: 1})
		}, []string{"k3s asset k3s-armhf (arm): resolved but not in the lock"}},
		{"file", func(l *Lock) { l.Files[0].SHA256 = hex64("0") }, []string{
			"file k3s-selinux.rpm: locked sha256:" + hex64("d") + ", resolved sha256:" + hex64("0"),
		}},
		{"file removed", func(l *Lock) { l.Files = nil }, []string{
			"file k3s-selinux.rpm: in the lock but no longer resolved",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			locked, resolved := sampleLock(), sampleLock()
			tt.change(resolved)
			got := locked.Diff(resolved)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLockLookups(t *testing.T) {
	l := sampleLock()
	if im, ok := l.Image("docker.io/library/nginx:1.27", "amd64"); !ok || im.Digest != "sha256:"+hex64("b") {
		t.Errorf("Image = %+v, %v", im, ok)
	}
	if _, ok := l.Image("docker.io/library/nginx:1.27", "arm"); ok {
		t.Error("Image found a missing arch")
	}
	if c, ok := l.Chart("longhorn", "1.7.2"); !ok || c.SHA256 != hex64("5") {
		t.Errorf("Chart = %+v, %v", c, ok)
	}
	if _, ok := l.Chart("longhorn", "1.7.3"); ok {
		t.Error("Chart found a missing version")
	}
}

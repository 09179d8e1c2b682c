package spec_test

import (
	"fmt"

	"github.com/ferry-k3s/ferry/bundle/spec"
)

func ExampleParse() {
	s, err := spec.Parse("ferry.yaml", []byte(`apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: factory-edge, version: 1.4.0}
k3s: {version: v1.31.4+k3s1}
charts:
  - name: nfs-subdir-external-provisioner
    repo: https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner
    version: 4.0.18
    required: [nfs.server, nfs.path]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.K3s.Arch, s.KubeVersion, s.Charts[0].Namespace, s.Charts[0].Required)
	// Output: [amd64] v1.31.4 default [nfs.server nfs.path]
}

func ExampleParse_error() {
	_, err := spec.Parse("ferry.yaml", []byte(`apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: factory-edge, version: 1.4.0}
k3s:
  version: v1.31.4+k3s1
  arhc: [amd64]
`))
	fmt.Println(err)
	// Output: ferry.yaml:6: k3s.arhc: unknown field (did you mean arch?)
}

func ExampleLock_Diff() {
	locked := &spec.Lock{Version: 1, Images: []spec.LockedImage{
		{Ref: "docker.io/library/nginx:1.27", Arch: "arm64", Digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	}}
	resolved := &spec.Lock{Version: 1, Images: []spec.LockedImage{
		{Ref: "docker.io/library/nginx:1.27", Arch: "arm64", Digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
	}}
	for _, d := range locked.Diff(resolved) {
		fmt.Println(d)
	}
	// Output: image docker.io/library/nginx:1.27 (arm64): locked sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, resolved sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
}

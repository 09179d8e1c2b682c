// Package images owns the container images a bundle carries: it resolves
// image references to the exact platform manifest for one architecture
// (Resolve), pulls their blobs in parallel into a content-addressed cache,
// and writes them as one deterministic archive per architecture that k3s
// imports from /var/lib/rancher/k3s/agent/images/ (WriteArchive).
//
// The archive is an OCI image layout in a tar (oci-layout, index.json,
// blobs/sha256/...) with a Docker-style manifest.json beside it, the same
// shape `docker save` writes since Docker 25. containerd (and so k3s) reads
// index.json and names each image from its io.containerd.image.name
// annotation, so images keep their full names and their registry manifest
// digests after import; Docker and go-containerregistry's tarball package
// read manifest.json. Every blob is stored once, however many images share
// it.
//
// Every registry exchange is bounded: a blob is cut one byte past the size
// its descriptor declares, any other response at MaxMetadataResponse
// (4 MiB), and a request that receives nothing for the stall timeout
// (WithStallTimeout, 60s) is abandoned and retried, whole requests by the
// registry client and bodies that break off after their headers here.
//
// Registry access goes through go-containerregistry's remote package with
// credentials from the Docker config (authn.DefaultKeychain) unless the
// caller passes another keychain. Progress is reported as events on a
// channel; the package never draws.
//
// It is one of the builder's inputs: only `ferry` (through bundle/builder)
// links it; ferry-install never does (cmd/ferry-install/deps_test.go).
package images

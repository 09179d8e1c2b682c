// Package demo stands up, inside one process and on loopback only, the
// world `ferry build` normally reaches over the internet: an OCI registry
// (go-containerregistry's pkg/registry, in memory) holding multi-arch images
// with shared base layers, a k3s release server with a stand-in binary and
// a real zstd airgap tarball, and a classic Helm chart repository serving a
// Longhorn-shaped and an NFS-shaped chart. It writes a ferry.yaml that
// points at them. `make demo`, the build tests and the benchmarks use it.
package demo

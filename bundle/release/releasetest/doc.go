// Package releasetest owns fake k3s releases for tests, demos and
// benchmarks: Write lays out a GitHub-release-shaped tree on disk (a
// stand-in k3s binary, a real airgap image tarball in .tar.zst form, and a
// correct sha256sum-<arch>.txt per architecture), Handler serves such a tree
// over HTTP, and NewServer starts a loopback server over a fresh tree that
// counts its requests.
//
// The package does not import "testing", so non-test code (make demo,
// benchmarks) may use it too.
package releasetest

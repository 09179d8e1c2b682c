// Package release owns the k3s release assets a bundle carries for each
// architecture: the k3s binary, the upstream airgap image tarball
// (k3s-airgap-images-<arch>.tar.zst, kept byte-identical) and the
// sha256sum-<arch>.txt list both are checked against.
//
// Assets are fetched through a fetch.Client, so they land in its content
// cache: a rebuild of the same version makes no request, and a rebuild with
// digests pinned by a lock file makes none even for the checksum list.
//
// A release source is a URL prefix under which each version is a directory:
// BaseURL/<version>/<asset>. Over HTTP the version's "+" is escaped as %2B,
// as GitHub's download URLs do. For a file:// (or bare path) source the
// directory on disk carries the literal version name, e.g.
// /mirror/k3s/v1.31.4+k3s1/k3s-arm64.
//
// It is one of the builder's inputs: only `ferry` (through bundle/builder)
// links it; ferry-install never does (cmd/ferry-install/deps_test.go).
package release

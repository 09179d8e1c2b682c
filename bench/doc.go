// Package bench owns Ferry's end-to-end benchmark: it stands up a
// realistic world on loopback (internal/demo: a registry with ~15
// Longhorn-shaped images sharing a base layer, gzip layers of generated
// file content, a k3s-sized binary, an airgap tarball and two charts),
// then times the real binaries `ferry build`, `ferry-install verify` and
// `ferry-install server --no-start --root` beside the by-hand baselines
// (crane pull, curl, tar | zstd -T0, cosign sign-blob, zstd -dc | sha256sum,
// zstd -dc | tar -x) on the same content in the same run, and reports
// ratios (ours / baseline) with min/median/max over several runs and the
// peak RSS of each process measured by /usr/bin/time. `make bench` runs it
// through bench/cmd/ferry-bench.
package bench

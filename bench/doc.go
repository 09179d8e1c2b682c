// Package bench holds Ferry's benchmarks: they build real bundles from
// generated content and time ferry's commands beside the by-hand baselines
// (zstd, sha256sum, tar) on the same files in the same run, reporting
// ratios and peak resident memory. Run them with `make bench`.
package bench

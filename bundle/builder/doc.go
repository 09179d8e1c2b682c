// Package builder owns `ferry build` and `ferry lock`, the connected side
// of Ferry that only the `ferry` binary links: it turns a bundle spec
// into a resolved plan (k3s release assets per architecture, chart archives,
// the images the charts run, extra files), pins that plan in a lock file,
// and writes the plan as one signed bundle.
//
// Every download goes through a content cache, so a rebuild of an unchanged
// spec downloads nothing; with --locked every artifact is pinned by digest
// and a rebuild from a warm cache makes no request at all. The image
// archive is never stored: its digest is cached and the archive is
// streamed from the blob cache into the bundle. The last two finished
// bundles are kept in the cache (hard links), so a rebuild whose inputs
// are unchanged links the same bytes into place instead of writing them
// again. BENCHMARKS.md has the measurements behind these choices.
package builder

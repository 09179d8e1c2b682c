// Package bundle owns the Ferry bundle file: the signed manifest (bundle.json),
// the deterministic tar+zstd writer and the streaming reader that verifies the
// signature over the manifest before it trusts anything, then checks every
// entry's size and sha256 while it streams.
//
// A bundle is a zstd-compressed tar stream whose first entry is bundle.json,
// whose second entry (when signed) is bundle.json.sig, and whose remaining
// entries appear in the order the manifest lists them (sorted by path).
package bundle

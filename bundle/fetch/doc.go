// Package fetch owns downloads for the builder: a Client that gets a file
// from an https://, http://, file:// URL or a bare local path into a
// content-addressed cache, checking its sha256 and size while it writes.
//
// The cache (default $XDG_CACHE_HOME/ferry, else ~/.cache/ferry) holds
//
//	blobs/sha256/<hex>   content, named by its sha256
//	urls/<sha256(url)>   for immutable URLs: which blob the URL returned
//	tmp/                 downloads in progress (same filesystem as blobs)
//
// Every blob is written to a temp name in tmp/, hashed while written,
// synced, then renamed into place, so a blob that exists is complete. A Get
// whose Want names a sha256 already in the cache makes no request at all;
// a Get of an immutable URL seen before makes none either.
//
// Every download is bounded: it is cut one byte past the size the caller
// declares (Want.Size), else the server's Content-Length, else a ceiling
// (Want.Max, else WithMaxSize, 4 GiB by default), and an attempt that
// receives nothing for the stall timeout (headers included; 60s) is
// abandoned and retried. Network errors, HTTP 5xx, 408 and 429 are retried with exponential backoff
// and jitter, resuming the partial download with a Range request when the
// server supports it. 404, 403 and 410 are not retried. Progress is reported
// as events on a channel; the package never draws anything.
//
// It is one of the builder's inputs: only `ferry` (through bundle/builder)
// links it; ferry-install never does (cmd/ferry-install/deps_test.go).
package fetch

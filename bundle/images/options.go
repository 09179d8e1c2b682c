package images

import (
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures Resolve and WriteArchive.
type Option func(*options)

type options struct {
	jobs       int
	retries    int
	retryDelay time.Duration
	keychain   authn.Keychain
	remoteOpts []remote.Option
	cacheDir   string
	progress   chan<- Progress
	skipRehash bool
	transport  http.RoundTripper
	stall      time.Duration
}

func defaultJobs() int {
	return min(8, 4*runtime.GOMAXPROCS(0))
}

func makeOptions(opts []Option) options {
	o := options{
		jobs:       defaultJobs(),
		retries:    3,
		retryDelay: time.Second,
		keychain:   authn.DefaultKeychain,
		transport:  remote.DefaultTransport,
		stall:      DefaultStallTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithJobs sets how many registry requests (manifest resolutions, blob
// downloads) run at once. The default is min(8, 4*GOMAXPROCS); values below
// 1 keep the default.
func WithJobs(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.jobs = n
		}
	}
}

// WithRetries sets how many times a failed registry request (connection
// refused or reset, timeout, 429 or 5xx) is retried after the first attempt,
// with exponential backoff. The default is 3; negative values keep it.
func WithRetries(n int) Option {
	return func(o *options) {
		if n >= 0 {
			o.retries = n
		}
	}
}

// WithRetryDelay sets the wait before the first retry; each further retry
// waits twice as long. The default is 1s; values of 0 or less keep it.
func WithRetryDelay(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.retryDelay = d
		}
	}
}

// WithKeychain sets where registry credentials come from. The default is
// authn.DefaultKeychain (the Docker config, $DOCKER_CONFIG or
// ~/.docker/config.json, and its credential helpers); nil keeps it.
func WithKeychain(k authn.Keychain) Option {
	return func(o *options) {
		if k != nil {
			o.keychain = k
		}
	}
}

// WithTransport sets the HTTP transport under every registry request. The
// package wraps it with the stall timeout (WithStallTimeout) and the
// MaxMetadataResponse cap. The default is remote.DefaultTransport; nil
// keeps it. Pass the transport here rather than as remote.WithTransport in
// WithRemoteOptions, which would replace the wrapped one and lose both
// bounds.
func WithTransport(rt http.RoundTripper) Option {
	return func(o *options) {
		if rt != nil {
			o.transport = rt
		}
	}
}

// WithStallTimeout sets how long a registry response may send no bytes,
// its headers included, before the request is abandoned and retried (see
// WithRetries). The default is DefaultStallTimeout (60s); values of 0 or
// less keep it.
func WithStallTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.stall = d
		}
	}
}

// WithRemoteOptions appends options passed to every go-containerregistry
// remote call, after Ferry's own (retries, keychain, user agent), so they
// override them; pass credentials with WithKeychain, since remote.WithAuth
// conflicts with the keychain. There are none by default.
func WithRemoteOptions(ro ...remote.Option) Option {
	return func(o *options) {
		o.remoteOpts = append(o.remoteOpts, ro...)
	}
}

// WithCacheDir keeps manifests and blobs in dir, by digest, across runs, so
// that a rebuild from pinned digests (ref@sha256:...) downloads nothing.
// Tag resolutions are never cached: a tag is always asked of the registry.
// By default nothing is cached: WriteArchive stages blobs in a temporary
// directory that it removes.
func WithCacheDir(dir string) Option {
	return func(o *options) {
		o.cacheDir = dir
	}
}

// WithProgress sends WriteArchive's download progress to ch (Resolve moves
// only manifests and reports none). Sends never block: an event is
// dropped when ch is full, so a slow reader sees fewer, later events. The
// channel is not closed by this package. There is no progress by default.
func WithProgress(ch chan<- Progress) Option {
	return func(o *options) {
		o.progress = ch
	}
}

// WithoutCacheRehash makes WriteArchive copy cached blobs into the archive
// without hashing each again. By default every blob read from the cache is
// re-hashed on the way, to catch a damaged cache. Use it only when the
// reader of the archive checks the whole archive against a digest computed
// from a hashed pass, as a bundle build does: a damaged blob then fails
// that check. It saves one sha256 pass over every layer.
func WithoutCacheRehash() Option {
	return func(o *options) {
		o.skipRehash = true
	}
}

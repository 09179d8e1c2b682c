package builder

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle/charts"
	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/signing"
)

// Options configure a build. The zero value of each field is its default.
type Options struct {
	// SpecPath is the bundle spec (ferry.yaml). Required.
	SpecPath string
	// OutDir receives NAME-VERSION.ferry and its .sig and .sha256. Required
	// unless DryRun.
	OutDir string
	// LockPath is the lock file; default ferry.lock.json beside the spec.
	LockPath string
	// Locked makes the build use the lock file's digests and fail if
	// anything resolves differently.
	Locked bool
	// Signer signs the bundle; nil builds an unsigned bundle, which needs
	// InsecureUnsigned.
	Signer signing.Signer
	// Key, when Signer is nil, is decrypted into the Signer while the spec
	// resolves (scrypt takes about 0.1 s).
	Key              *signing.Key
	InsecureUnsigned bool
	// CacheDir holds downloads, chart archives, image blobs and image
	// archives by digest; default fetch.DefaultCacheDir().
	CacheDir string
	// Jobs is how many downloads run at once; default min(8, 4*GOMAXPROCS).
	Jobs int
	// Split, when positive, writes the bundle as parts of at most Split
	// bytes (see bundle.WithSplit).
	Split int64
	// Level is the zstd level of the bundle; default zstd.SpeedFastest.
	// Measured (BENCHMARKS.md): it stores already-compressed image layers
	// and airgap tarballs almost for free where SpeedDefault spends a full
	// match-finding pass on them (0.2 s instead of 0.65-0.9 s for 792 MiB),
	// and compresses a real Go binary such as k3s within 3% of
	// SpeedDefault.
	Level zstd.EncoderLevel
	// Created is the bundle's creation time and every tar mtime; default
	// SOURCE_DATE_EPOCH's value, else the Unix epoch (reproducible builds).
	Created time.Time
	// Log receives one line per step (nil: silent).
	Log io.Writer
	// Progress receives events about downloads, image pulls and the bundle
	// write (never blocking: events are dropped when it is full; nil: none).
	Progress chan<- Event
	// Transport is used for HTTP downloads and registries; nil for the
	// default (tests point it at loopback servers).
	Transport http.RoundTripper
	// RemoteOptions are passed to every registry call.
	RemoteOptions []remote.Option
	// Retries bounds retries of each network request; 0 keeps each
	// fetcher's default.
	Retries int
	// RetryDelay is the first retry's wait; 0 keeps the defaults.
	RetryDelay time.Duration
	// StallTimeout is how long any download (release asset, extra file,
	// registry request) may receive nothing, waiting for its headers
	// included, before it is abandoned and retried; default 60s
	// (fetch.DefaultStallTimeout, images.DefaultStallTimeout).
	StallTimeout time.Duration
	// MaxDownload caps a download whose size nothing pinned declares (a
	// release asset or an extra file known by digest alone); default
	// fetch.DefaultMaxSize (4 GiB). Image blobs are always cut at the size
	// their descriptor declares.
	MaxDownload int64
	// Render bounds the render of each chart (time, output, memory); the
	// zero value of each field is its default (see charts.Limits).
	Render charts.Limits
}

func (o *Options) setDefaults() error {
	if o.SpecPath == "" {
		return fmt.Errorf("build: no spec: pass -f ferry.yaml")
	}
	if o.LockPath == "" {
		o.LockPath = o.lockPath()
	}
	if o.CacheDir == "" {
		d, err := fetch.DefaultCacheDir()
		if err != nil {
			return fmt.Errorf("build: %w (pass --cache-dir)", err)
		}
		o.CacheDir = d
	}
	if o.Jobs <= 0 {
		o.Jobs = min(8, 4*runtime.GOMAXPROCS(0))
	}
	if o.Level == 0 {
		o.Level = zstd.SpeedFastest
	}
	return nil
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

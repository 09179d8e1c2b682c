package charts

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Source names one chart to pull.
type Source struct {
	// Name is the chart name (e.g. "longhorn"). Required for repository and
	// OCI sources; for local sources it must match Chart.yaml when set.
	Name string
	// Repo is where the chart lives: an http(s) repository URL serving
	// index.yaml, an "oci://" registry reference (the chart is pulled from
	// Repo/Name:Version), a local chart directory, or a local .tgz archive.
	Repo string
	// Version is the exact chart version; ranges are refused. Required for
	// repository and OCI sources; for local sources it must match Chart.yaml
	// when set.
	Version string
	// Keyring, when set, is the path of a GnuPG keyring (binary, as Helm
	// expects) used to verify the chart's .prov provenance file. Pull fails
	// when the provenance file is absent or does not verify.
	Keyring string
}

// Archive is a pulled chart archive in the cache.
type Archive struct {
	// Name and Version are read from the archive's Chart.yaml.
	Name, Version string
	// Path is the archive file on disk, inside the cache directory. It is
	// named <name>-<version>.tgz.
	Path string
	// SHA256 is the lowercase hex sha256 of the archive bytes.
	SHA256 string
	// Size is the archive size in bytes.
	Size int64
}

// Option configures Pull.
type Option func(*options) error

type options struct {
	cacheDir  string
	client    *http.Client
	plainHTTP bool
	retries   int
	specPath  string
}

// WithCacheDir sets the cache directory. Archives are stored by sha256 and
// indexed by repository, name and version, so pulling the same exact version
// again makes no network request. The private Helm configuration (registry
// credentials file, repository index cache) also lives there. Default:
// $XDG_CACHE_HOME/ferry/charts (os.UserCacheDir).
func WithCacheDir(dir string) Option {
	return func(o *options) error {
		if strings.TrimSpace(dir) == "" {
			return errors.New("cache directory is empty: pass a directory path")
		}
		o.cacheDir = dir
		return nil
	}
}

// WithHTTPClient sets the HTTP client used for classic repositories and OCI
// registries. Default: a client with a 5 minute timeout and proxy settings
// from the environment.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("http client is nil: pass a client or leave the option out")
		}
		o.client = c
		return nil
	}
}

// WithPlainHTTP talks plain HTTP instead of HTTPS to oci:// registries. Meant
// for registries on loopback in tests and labs. Default: HTTPS.
func WithPlainHTTP() Option {
	return func(o *options) error {
		o.plainHTTP = true
		return nil
	}
}

// WithRetries sets how many times a failed network request is retried, with
// a short backoff (1s, 2s, 4s, capped at 8s). Default: 2. Negative counts are
// refused.
func WithRetries(n int) Option {
	return func(o *options) error {
		if n < 0 || n > 20 {
			return fmt.Errorf("retries %d out of range: pass 0 to 20", n)
		}
		o.retries = n
		return nil
	}
}

// WithSpecPath names where the source came from in the bundle spec (e.g.
// "charts[0]"), so errors say which field to fix. Default: "the chart".
func WithSpecPath(path string) Option {
	return func(o *options) error {
		o.specPath = path
		return nil
	}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{retries: 2}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find a cache directory: %w: pass WithCacheDir", err)
		}
		o.cacheDir = filepath.Join(base, "ferry", "charts")
	}
	if o.client == nil {
		o.client = &http.Client{
			Timeout:   defaultTimeout,
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment},
		}
	}
	return o, nil
}

// fieldHint is the spec field to fix, e.g. "charts[0].version".
func (o *options) fieldHint(field string) string {
	if o.specPath == "" {
		return "the chart's " + field
	}
	return o.specPath + "." + field
}

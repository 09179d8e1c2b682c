package fetch

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Defaults of a Client; each WithXxx option states which one it overrides.
const (
	// DefaultRetries is how many times a failed request is retried.
	DefaultRetries = 4
	// DefaultInitialBackoff is the wait before the first retry.
	DefaultInitialBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the wait between two attempts.
	DefaultMaxBackoff = 15 * time.Second
	// DefaultStallTimeout is how long a response may send no bytes before
	// the attempt is abandoned (and retried, resuming).
	DefaultStallTimeout = 60 * time.Second
	// DefaultMaxSize caps a download whose size the caller does not know
	// (4 GiB): an extra file or a release asset pinned by digest only. A
	// k3s binary is about 70 MiB, an airgap image tarball under 1 GiB.
	DefaultMaxSize = 4 << 30
	// DefaultUserAgent is sent with every HTTP request.
	DefaultUserAgent = "ferry-fetch/1"
)

type config struct {
	cacheDir     string
	retries      int
	initial, max time.Duration
	stall        time.Duration
	maxSize      int64
	transport    http.RoundTripper
	progress     chan<- Progress
	userAgent    string
}

// Option configures a Client built by New. An option given bad input makes
// New fail with an error naming the option.
type Option func(*config) error

// WithCacheDir sets the cache directory; it is created if missing. Default:
// $XDG_CACHE_HOME/ferry, else $HOME/.cache/ferry.
func WithCacheDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return errors.New("WithCacheDir: empty directory: name a writable directory")
		}
		c.cacheDir = dir
		return nil
	}
}

// WithRetries sets how many times a failed request is retried after the
// first attempt (0 disables retries). Default: DefaultRetries (4).
func WithRetries(n int) Option {
	return func(c *config) error {
		if n < 0 || n > 100 {
			return fmt.Errorf("WithRetries(%d): want 0 to 100 retries", n)
		}
		c.retries = n
		return nil
	}
}

// WithBackoff sets the wait before the first retry and the cap on any wait;
// the wait doubles after each failure and is jittered by up to half its
// length. Defaults: DefaultInitialBackoff (500ms), DefaultMaxBackoff (15s).
// A server's Retry-After is honoured up to max.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *config) error {
		if initial <= 0 || max < initial {
			return fmt.Errorf("WithBackoff(%s, %s): want 0 < initial <= max", initial, max)
		}
		c.initial, c.max = initial, max
		return nil
	}
}

// WithStallTimeout sets how long a response may deliver no bytes before the
// attempt is abandoned and retried. Default: DefaultStallTimeout (60s).
func WithStallTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithStallTimeout(%s): want a positive duration", d)
		}
		c.stall = d
		return nil
	}
}

// WithMaxSize sets the ceiling of a download whose size the caller does not
// know (Want.Size 0 and no Want.Max): the download fails at the first byte
// over it, or at once when the server declares more. Default:
// DefaultMaxSize (4 GiB).
func WithMaxSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("WithMaxSize(%d): want a positive number of bytes", n)
		}
		c.maxSize = n
		return nil
	}
}

// WithTransport sets the HTTP transport. Default: a clone of
// http.DefaultTransport (so HTTPS_PROXY and friends apply) with transparent
// decompression off, so every file arrives byte-identical.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *config) error {
		if rt == nil {
			return errors.New("WithTransport: nil transport")
		}
		c.transport = rt
		return nil
	}
}

// WithProgress sets a channel that receives Progress events. Sends never
// block: an event that does not fit in the channel's buffer is dropped, so
// give the channel a buffer and treat events as hints. The Client never
// closes the channel. Default: no events.
func WithProgress(ch chan<- Progress) Option {
	return func(c *config) error {
		c.progress = ch
		return nil
	}
}

// WithUserAgent sets the User-Agent header. Default: DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if ua == "" {
			return errors.New("WithUserAgent: empty user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// DefaultCacheDir returns $XDG_CACHE_HOME/ferry, else $HOME/.cache/ferry.
func DefaultCacheDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "ferry"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory: %w: set XDG_CACHE_HOME or HOME", err)
	}
	return filepath.Join(home, ".cache", "ferry"), nil
}

func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.ResponseHeaderTimeout = 60 * time.Second
	return t
}

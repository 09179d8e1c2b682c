package charts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"helm.sh/helm/v3/pkg/getter"
)

const (
	// defaultTimeout bounds one HTTP request of the default client.
	defaultTimeout = 5 * time.Minute
	// maxDownload caps one downloaded file (index.yaml, chart or .prov):
	// 32 MiB holds the largest public repository indexes and keeps a
	// build that passes under its 128 MiB memory target, since the
	// getter hands Helm the whole body.
	maxDownload = 32 << 20
	// maxBackoff caps the wait between retries.
	maxBackoff = 8 * time.Second
)

// errNotFound marks a 404 from a classic repository; it is not retried.
var errNotFound = errors.New("not found")

// ctxTransport attaches ctx to requests made by Helm SDK code that does not
// take a context itself (getters, the registry client), so cancelling the
// Pull cancels its requests.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

// withContext returns a copy of c whose requests carry ctx.
func withContext(ctx context.Context, c *http.Client) *http.Client {
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc := *c
	cc.Transport = ctxTransport{ctx: ctx, base: base}
	return &cc
}

// httpGetter is a Helm getter.Getter on top of the caller's http.Client, so
// that pkg/repo downloads honour WithHTTPClient and the context.
type httpGetter struct{ client *http.Client }

// Get fetches href. Helm's getter options (TLS files, basic auth) are not
// used: configure them on the http.Client.
func (g httpGetter) Get(href string, _ ...getter.Option) (*bytes.Buffer, error) {
	req, err := http.NewRequest(http.MethodGet, href, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "ferry")
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("get %s: %s: %w", href, resp.Status, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s", href, resp.Status)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", href, err)
	}
	if n > maxDownload {
		return nil, fmt.Errorf("get %s: larger than %d bytes, more than any chart repository serves: check the repo URL", href, maxDownload)
	}
	return &buf, nil
}

func (g httpGetter) providers() getter.Providers {
	return getter.Providers{{
		Schemes: []string{"http", "https"},
		New:     func(...getter.Option) (getter.Getter, error) { return g, nil },
	}}
}

// retry runs fn up to 1+retries times, backing off between attempts. It
// stops early on success, on a not-found error and when ctx ends.
func retry(ctx context.Context, retries int, fn func() error) error {
	wait := time.Second
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if err = fn(); err == nil || errors.Is(err, errNotFound) || ctx.Err() != nil {
			return err
		}
		if attempt == retries {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxBackoff)
	}
	return err
}

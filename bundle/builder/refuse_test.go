package builder_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/builder"
	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

// failingTransport refuses and counts every request: a build that stops at
// the spec makes none.
type failingTransport struct{ n atomic.Int64 }

func (f *failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	f.n.Add(1)
	return nil, errors.New("no network in this test")
}

// TestBuildRefusesWhatHostsRefuse: a spec whose files: or templates: every
// host would refuse or ignore fails before anything is fetched, with the
// field path.
func TestBuildRefusesWhatHostsRefuse(t *testing.T) {
	const head = "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata: {name: edge, version: 1.0.0}\nk3s: {version: v1.31.4+k3s1}\n"
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name, spec, template, want string
	}{
		{"hostPath in /var/lib/ferry", head + "files:\n  - {source: ./a.rpm, sha256: " + sum + ", hostPath: /var/lib/ferry/files/a.rpm}\n", "",
			`ferry.yaml:6: files[0].hostPath: "/var/lib/ferry/files/a.rpm" is inside /var/lib/ferry`},
		{"template in a subdirectory", head + "templates: ./templates\n", "sub/config.yaml.tmpl",
			`ferry.yaml:5: templates: `},
		{"unknown template", head + "templates: ./templates\n", "k3s.conf.tmpl",
			`is not a known template`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			specPath := filepath.Join(dir, "ferry.yaml")
			if err := os.WriteFile(specPath, []byte(tt.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.template != "" {
				p := filepath.Join(dir, "templates", tt.template)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			net := &failingTransport{}
			_, err := builder.Build(context.Background(), builder.Options{
				SpecPath: specPath, OutDir: filepath.Join(dir, "out"), CacheDir: t.TempDir(), InsecureUnsigned: true, Transport: net,
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if net.n.Load() != 0 {
				t.Errorf("the build made %d requests before refusing the spec", net.n.Load())
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "out")); len(ents) != 0 {
				t.Errorf("output directory holds %d entries", len(ents))
			}
		})
	}
}

// TestBuildChartRepoStalls: a chart repository that sends headers and then
// nothing fails the build after the stall timeout and the retries, with an
// error naming the chart and the flag.
func TestBuildChartRepoStalls(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tree, err := releasetest.Write(filepath.Join(dir, "mirror"), "v1.31.4+k3s1", []string{"amd64"}, releasetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, "ferry.yaml")
	spec := "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata: {name: edge, version: 1.0.0}\nk3s: {version: v1.31.4+k3s1, source: \"file://" + tree.Dir + "\"}\n" +
		"charts:\n  - {name: app, repo: " + srv.URL + ", version: 1.0.0}\n"
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = builder.Resolve(context.Background(), builder.Options{
		SpecPath: specPath, CacheDir: t.TempDir(), Retries: 1, StallTimeout: 200 * time.Millisecond,
	})
	t.Logf("after %s, %d requests: %v", time.Since(start).Round(time.Millisecond), hits.Load(), err)
	if err == nil || !strings.Contains(err.Error(), "stall timeout") || !strings.Contains(err.Error(), "--stall-timeout") {
		t.Fatalf("error %v, want a stall timeout naming the flag", err)
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests, want 2 (one retry)", hits.Load())
	}
}

package charts

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/registry"
)

// ociRegistry starts a go-containerregistry registry on loopback, counting
// requests, and returns its host:port.
func ociRegistry(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

// pushChart pushes a chart archive (and provenance, when not nil) with
// Helm's registry client over plain HTTP.
func pushChart(t *testing.T, ref string, data, prov []byte) {
	t.Helper()
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(),
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	var opts []registry.PushOption
	if prov != nil {
		opts = append(opts, registry.PushOptProvData(prov))
	}
	if _, err := client.Push(data, ref, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
}

func TestPullOCI(t *testing.T) {
	host, requests := ociRegistry(t)
	tgz := packageFixture(t, "longhorn-shaped", t.TempDir())
	data, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	pushChart(t, host+"/charts/longhorn-shaped:1.7.2", data, nil)
	cacheDir := t.TempDir()
	src := Source{Name: "longhorn-shaped", Repo: "oci://" + host + "/charts", Version: "1.7.2"}

	a, err := Pull(context.Background(), src, WithCacheDir(cacheDir), WithPlainHTTP(), WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != digest(data) || a.Name != "longhorn-shaped" || a.Version != "1.7.2" {
		t.Errorf("archive = %+v; want the pushed bytes (sha256 %s)", a, digest(data))
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "helm", "registry")); err == nil {
		t.Log("registry credentials dir created inside the cache")
	}

	t.Run("cache hit makes no request", func(t *testing.T) {
		before := requests.Load()
		if _, err := Pull(context.Background(), src, WithCacheDir(cacheDir), WithPlainHTTP()); err != nil {
			t.Fatal(err)
		}
		if n := requests.Load() - before; n != 0 {
			t.Errorf("second pull made %d requests; want 0", n)
		}
	})

	t.Run("unknown version lists tags", func(t *testing.T) {
		bad := src
		bad.Version = "9.9.9"
		_, err := Pull(context.Background(), bad, WithCacheDir(t.TempDir()), WithPlainHTTP(), WithRetries(0), WithSpecPath("charts[1]"))
		var ve *VersionError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v; want *VersionError", err)
		}
		want := "chart longhorn-shaped 9.9.9 not found in oci://" + host + "/charts (has 1.7.2): fix charts[1].version"
		if err.Error() != want {
			t.Errorf("got  %s\nwant %s", err, want)
		}
	})

	t.Run("keyring without provenance layer", func(t *testing.T) {
		keyring, _ := testKeyring(t)
		signed := src
		signed.Keyring = keyring
		_, err := Pull(context.Background(), signed, WithCacheDir(cacheDir), WithPlainHTTP(), WithRetries(0))
		if !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), "no provenance layer") {
			t.Errorf("err = %v; want ErrProvenance about the missing layer", err)
		}
	})

	t.Run("signed chart with provenance layer", func(t *testing.T) {
		public, secret := testKeyring(t)
		tgz := packageFixture(t, "nfs-shaped", t.TempDir())
		signChart(t, secret, tgz)
		data, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		prov, err := os.ReadFile(tgz + ".prov")
		if err != nil {
			t.Fatal(err)
		}
		pushChart(t, host+"/charts/nfs-shaped:4.0.18", data, prov)
		a, err := Pull(context.Background(), Source{Name: "nfs-shaped", Repo: "oci://" + host + "/charts", Version: "4.0.18", Keyring: public},
			WithCacheDir(t.TempDir()), WithPlainHTTP(), WithRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != digest(data) {
			t.Errorf("sha256 = %s; want %s", a.SHA256, digest(data))
		}
	})
}

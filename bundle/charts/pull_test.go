package charts

import (
	"bytes"
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
)

func TestPullRepo(t *testing.T) {
	srv, dir := chartRepo(t, "longhorn-shaped", "nfs-shaped")
	want, err := os.ReadFile(filepath.Join(dir, "longhorn-shaped-1.7.2.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	src := Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "1.7.2"}

	a, err := Pull(context.Background(), src, WithCacheDir(cacheDir), WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("pulled archive bytes differ from the repository's")
	}
	if a.Name != "longhorn-shaped" || a.Version != "1.7.2" || a.SHA256 != digest(want) || a.Size != int64(len(want)) {
		t.Errorf("archive = %+v", a)
	}
	if !strings.HasPrefix(a.Path, cacheDir) || filepath.Base(a.Path) != "longhorn-shaped-1.7.2.tgz" {
		t.Errorf("archive path %s is not <name>-<version>.tgz in the cache %s", a.Path, cacheDir)
	}
	if srv.requests.Load() == 0 {
		t.Fatal("first pull made no request")
	}

	t.Run("cache hit makes no request", func(t *testing.T) {
		before := srv.requests.Load()
		b, err := Pull(context.Background(), src, WithCacheDir(cacheDir))
		if err != nil {
			t.Fatal(err)
		}
		if n := srv.requests.Load() - before; n != 0 {
			t.Errorf("second pull made %d requests; want 0", n)
		}
		if *b != *a {
			t.Errorf("cached archive %+v differs from %+v", b, a)
		}
	})

	t.Run("trailing slash on repo URL", func(t *testing.T) {
		b, err := Pull(context.Background(), Source{Name: "nfs-shaped", Repo: srv.URL + "/", Version: "4.0.18"}, WithCacheDir(cacheDir))
		if err != nil {
			t.Fatal(err)
		}
		if b.Name != "nfs-shaped" {
			t.Errorf("name = %s", b.Name)
		}
	})

	t.Run("index cache is removed", func(t *testing.T) {
		left, err := filepath.Glob(filepath.Join(cacheDir, "helm", "repository-*"))
		if err != nil || len(left) != 0 {
			t.Errorf("per-pull index caches left behind: %v %v", left, err)
		}
	})
}

func TestPullErrors(t *testing.T) {
	srv, _ := chartRepo(t, "longhorn-shaped")
	tests := []struct {
		name string
		src  Source
		want []string
	}{
		{"unknown version", Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "9.9.9"},
			[]string{"chart longhorn-shaped 9.9.9 not found in " + srv.URL + " (has 1.7.2): fix charts[0].version"}},
		{"unknown chart", Source{Name: "nope", Repo: srv.URL, Version: "1.0.0"},
			[]string{"chart nope not found in " + srv.URL, "fix charts[0].name"}},
		{"no version", Source{Name: "longhorn-shaped", Repo: srv.URL},
			[]string{"has no version", "charts[0].version"}},
		{"range", Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "^1.7"},
			[]string{"is a range", "charts[0].version"}},
		{"no repo", Source{Name: "x", Version: "1.0.0"}, []string{"has no repo", "charts[0].repo"}},
		{"bad scheme", Source{Name: "x", Repo: "ftp://example.invalid/", Version: "1"}, []string{"unsupported scheme"}},
		{"missing path", Source{Name: "x", Repo: filepath.Join(t.TempDir(), "absent")}, []string{"not a URL and not a readable local path"}},
		{"not a chart repository", Source{Name: "x", Repo: srv.URL + "/nothing-here", Version: "1.0.0"},
			[]string{"has no index.yaml", "fix charts[0].repo"}},
		{"unreachable repo", Source{Name: "x", Repo: "http://127.0.0.1:1", Version: "1.0.0"}, []string{"read index of http://127.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			_, err := Pull(context.Background(), tt.src, WithCacheDir(cacheDir), WithRetries(0), WithSpecPath("charts[0]"))
			if err == nil {
				t.Fatal("Pull succeeded; want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(cacheDir, "archives")); len(entries) != 0 {
				t.Errorf("failed pull left %d archives in the cache", len(entries))
			}
		})
	}

	t.Run("version error is typed", func(t *testing.T) {
		_, err := Pull(context.Background(), Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "0.0.1"}, WithCacheDir(t.TempDir()))
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Version != "0.0.1" || len(ve.Available) != 1 {
			t.Errorf("error %v is not a *VersionError with the available versions", err)
		}
	})
}

func TestVersionErrorListsFewVersions(t *testing.T) {
	e := &VersionError{Chart: "longhorn", Version: "9.9.9", Repo: "https://charts.longhorn.io",
		Available: []string{"1.7.2", "1.7.1", "1.7.0", "1.6.3", "1.6.2", "1.6.1"}, Field: "charts[0].version"}
	want := "chart longhorn 9.9.9 not found in https://charts.longhorn.io (has 1.7.2, 1.7.1, 1.7.0, 1.6.3, 1.6.2, ...): fix charts[0].version"
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e.Error(), want)
	}
}

func TestPullLocal(t *testing.T) {
	t.Run("directory is packaged deterministically", func(t *testing.T) {
		cacheA, cacheB := t.TempDir(), t.TempDir()
		a, err := Pull(context.Background(), Source{Repo: fixture(t, "longhorn-shaped")}, WithCacheDir(cacheA))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Pull(context.Background(), Source{Name: "longhorn-shaped", Version: "1.7.2", Repo: fixture(t, "longhorn-shaped")}, WithCacheDir(cacheB))
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != b.SHA256 || a.Name != "longhorn-shaped" || a.Version != "1.7.2" {
			t.Errorf("two packagings differ or are misnamed: %+v %+v", a, b)
		}
		if _, err := Render(context.Background(), a.Path, RenderOptions{}); err != nil {
			t.Errorf("packaged chart does not render: %v", err)
		}
	})
	t.Run("directory with the wrong version", func(t *testing.T) {
		_, err := Pull(context.Background(), Source{Version: "2.0.0", Repo: fixture(t, "longhorn-shaped")}, WithCacheDir(t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "not version 2.0.0") {
			t.Errorf("err = %v; want a version mismatch", err)
		}
	})
	t.Run("archive is copied byte for byte", func(t *testing.T) {
		tgz := packageFixture(t, "nfs-shaped", t.TempDir())
		want, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Pull(context.Background(), Source{Repo: tgz}, WithCacheDir(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		if a.SHA256 != digest(want) || a.Name != "nfs-shaped" || a.Version != "4.0.18" {
			t.Errorf("archive = %+v; want sha256 %s", a, digest(want))
		}
	})
	t.Run("file that is not an archive", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.tgz")
		if err := os.WriteFile(bad, []byte("not gzip"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Pull(context.Background(), Source{Repo: bad}, WithCacheDir(t.TempDir())); err == nil || !strings.Contains(err.Error(), "load chart") {
			t.Errorf("err = %v; want a load error", err)
		}
	})
}

func TestOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"empty cache dir":  WithCacheDir(" "),
		"nil client":       WithHTTPClient(nil),
		"negative retries": WithRetries(-1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Pull(context.Background(), Source{Name: "x", Repo: "http://127.0.0.1:1", Version: "1"}, opt); err == nil {
				t.Error("Pull accepted a bad option")
			}
		})
	}
}

func TestPullRetries(t *testing.T) {
	dir := t.TempDir()
	packageFixture(t, "nfs-shaped", dir)
	var failures atomic.Int64
	failures.Store(1)
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failures.Add(-1) >= 0 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer srv.Close()
	writeIndex(t, dir, srv.URL)
	src := Source{Name: "nfs-shaped", Repo: srv.URL, Version: "4.0.18"}

	t.Run("no retries fails", func(t *testing.T) {
		failures.Store(1)
		if _, err := Pull(context.Background(), src, WithCacheDir(t.TempDir()), WithRetries(0)); err == nil || !strings.Contains(err.Error(), "503") {
			t.Errorf("err = %v; want the 503", err)
		}
	})
	t.Run("one retry succeeds", func(t *testing.T) {
		failures.Store(1)
		if _, err := Pull(context.Background(), src, WithCacheDir(t.TempDir()), WithRetries(1)); err != nil {
			t.Error(err)
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		failures.Store(100)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Pull(ctx, src, WithCacheDir(t.TempDir()), WithRetries(20))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Pull took %v after the context ended", d)
		}
	})
}

func TestPullLeavesHomeAlone(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	srv, _ := chartRepo(t, "nfs-shaped")
	if _, err := Pull(context.Background(), Source{Name: "nfs-shaped", Repo: srv.URL, Version: "4.0.18"}, WithCacheDir(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	host, _ := ociRegistry(t)
	if _, err := Pull(context.Background(), Source{Name: "nfs-shaped", Repo: "oci://" + host + "/charts", Version: "4.0.18"},
		WithCacheDir(t.TempDir()), WithPlainHTTP(), WithRetries(0)); err == nil {
		t.Error("pull of an absent OCI chart succeeded")
	}
	entries, err := os.ReadDir(home)
	if err != nil || len(entries) != 0 {
		t.Errorf("Pull wrote into $HOME: %v %v", entries, err)
	}
}

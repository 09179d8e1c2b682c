package charts

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
)

// fixture returns the path of a chart directory under testdata/charts.
func fixture(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "charts", name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return dir
}

// packageFixture packages a fixture chart with the Helm SDK into dir and
// returns the archive path.
func packageFixture(t *testing.T, name, dir string) string {
	t.Helper()
	ch, err := loader.LoadDir(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	path, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// countingServer serves dir over HTTP on loopback and counts requests.
type countingServer struct {
	*httptest.Server
	requests atomic.Int64
}

func serveDir(t *testing.T, dir string) *countingServer {
	t.Helper()
	s := &countingServer{}
	files := http.FileServer(http.Dir(dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// chartRepo builds a classic chart repository in a temp dir from fixture
// charts and serves it; the index is generated with repo.IndexDirectory.
func chartRepo(t *testing.T, names ...string) (*countingServer, string) {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		packageFixture(t, n, dir)
	}
	s := serveDir(t, dir)
	writeIndex(t, dir, s.URL)
	return s, dir
}

func writeIndex(t *testing.T, dir, url string) {
	t.Helper()
	idx, err := repo.IndexDirectory(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

package releasetest

import (
	"net/http"
	"net/http/httptest"
	"sync"
)

// TB is the part of testing.TB that NewServer needs; *testing.T and
// *testing.B satisfy it.
type TB interface {
	Helper()
	TempDir() string
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// Handler serves a tree written by Write (or any directory laid out as
// BaseURL/<version>/<asset>) the way a release server does, with Range
// support. A request path may escape the version's "+" as %2B.
func Handler(dir string) http.Handler {
	return http.FileServer(http.Dir(dir))
}

// Server is a loopback HTTP server over a fake release that records the
// requests it receives.
type Server struct {
	*httptest.Server
	// Tree is the release the server serves.
	Tree *Tree

	mu    sync.Mutex
	paths []string
}

// NewServer writes a fake release of version for arches into a temp
// directory of t and serves it on 127.0.0.1 until t's cleanup. Its URL is a
// release BaseURL.
func NewServer(t TB, version string, arches []string, opts Options) *Server {
	t.Helper()
	tree, err := Write(t.TempDir(), version, arches, opts)
	if err != nil {
		t.Fatalf("write fake release: %v", err)
	}
	s := &Server{Tree: tree}
	files := Handler(tree.Dir)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Requests returns how many requests the server has received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.paths)
}

// Paths returns the (unescaped) paths requested so far, in order.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

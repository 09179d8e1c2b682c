package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportGraph keeps ferry-install small and offline: it must not link
// Helm, go-containerregistry's registry clients or client-go.
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"helm.sh/helm",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/google/go-containerregistry/pkg/registry",
		"k8s.io/client-go",
		"github.com/spf13/cobra/doc",
		// The builder's side of bundle/: spec, fetchers, charts, images.
		"github.com/ferry-k3s/ferry/bundle/",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("ferry-install links %s", d)
			}
		}
	}
}

// TestStaticBinary builds ferry-install as the release does and checks the
// result is a static ELF with no interpreter.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; runs without -short")
	}
	bin := filepath.Join(t.TempDir(), "ferry-install")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("ferry-install has a dynamic interpreter: it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Fatalf("ferry-install needs shared libraries %v", libs)
	}
	st, _ := os.Stat(bin)
	t.Logf("ferry-install static binary: %.1f MiB", float64(st.Size())/(1<<20))
}

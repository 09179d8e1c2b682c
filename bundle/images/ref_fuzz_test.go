package images

import (
	"strings"
	"testing"
)

// FuzzParseRef feeds arbitrary strings to the image reference parser. It
// must never panic, and whatever it accepts must normalise to a fixed
// point: parsing the normalised form again gives the same form, names the
// same repository, and yields the names containerd will know it by.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"nginx", "nginx:1.27", "docker.io/library/nginx:1.27", "index.docker.io/library/nginx",
		"localhost:5000/app", "localhost:5000/app:1", "registry.site:5000/team/app:v1.2.3",
		"ghcr.io/org/app@sha256:" + strings.Repeat("a", 64),
		"quay.io/org/app:1@sha256:" + strings.Repeat("0", 64),
		"rancher/mirrored-pause:3.6", "  nginx  ", "", ":", "@", "a/b/c/d:e", "UPPER/case", "[::1]:5000/app:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRef(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		norm := r.String()
		if !strings.Contains(r.repo, "/") || strings.HasPrefix(r.repo, "index.docker.io/") {
			t.Fatalf("%q: repository %q is not normalised", s, r.repo)
		}
		again, err := parseRef(norm)
		if err != nil {
			t.Fatalf("%q normalises to %q, which does not parse: %v", s, norm, err)
		}
		if again.String() != norm || again.repo != r.repo {
			t.Fatalf("%q: normalised %q, then %q (repo %q, then %q)", s, norm, again.String(), r.repo, again.repo)
		}
		names := r.names()
		if len(names) == 0 {
			t.Fatalf("%q: no names for containerd", s)
		}
		for _, n := range names {
			if !strings.HasPrefix(n, r.repo) {
				t.Fatalf("%q: name %q is not in repository %q", s, n, r.repo)
			}
		}
	})
}

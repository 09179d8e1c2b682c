package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics and that its results keep their
// promises: either a spec with defaults applied, or FieldErrors that each
// fit on one line and name the file and a line inside the input.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"full.yaml", "minimal.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/specs", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(head + "charts: &c [*c]\n"))
	f.Add([]byte(head + "charts:\n  - &x {name: a, repo: ./a, version: 1.0.0}\n  - <<: *x\n    releaseName: b\n"))
	f.Add([]byte(head + "traefik: {values: {a: .inf, 80: x, ? [a]: b}}\n"))
	f.Add([]byte(head + "files: [{source: x, sha256: " + sum + ", hostPath: /x/../y, mode: 0644}]\n"))
	f.Add([]byte("a: b\n  c: d\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("f.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatal("spec and error both returned")
			}
			lines := countLines(data)
			for _, fe := range fieldErrors(err) {
				if fe.File != "f.yaml" || fe.Line < 1 || fe.Line > lines+1 {
					t.Fatalf("bad position in %q (input has %d lines)", fe.Error(), lines)
				}
				if strings.Contains(fe.Error(), "\n") {
					t.Fatalf("error spans lines: %q", fe.Error())
				}
			}
			return
		}
		if len(s.K3s.Arch) == 0 || s.K3s.Source == "" || s.KubeVersion == "" {
			t.Fatalf("defaults not applied: %+v", s.K3s)
		}
		for _, c := range s.Charts {
			if c.Namespace == "" || c.ReleaseName == "" {
				t.Fatalf("chart defaults not applied: %+v", c)
			}
		}
		for _, fl := range s.Files {
			if _, err := fl.Perm(); err != nil || fl.Name == "" {
				t.Fatalf("file %+v: %v", fl, err)
			}
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("parsed spec does not encode: %v", err)
		}
	})
}

// fieldErrors flattens what Parse returns into FieldErrors; anything else
// fails the caller's checks by being a FieldError with no file.
func fieldErrors(err error) []*FieldError {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Msg: err.Error()}}
}

// countLines counts lines the way the YAML parser does: CR, LF, CRLF, NEL,
// LS and PS all end a line.
func countLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return 1 + strings.Count(s, "\n") + strings.Count(s, "\r") +
		strings.Count(s, "\u0085") + strings.Count(s, "\u2028") + strings.Count(s, "\u2029")
}

package spec

import (
	"fmt"
	"os"

	"github.com/ferry-k3s/ferry/internal/hostrules"
)

// checkTemplates refuses a templates: directory whose overrides hosts
// would refuse or silently ignore (see hostrules.CheckTemplates: unknown
// names, subdirectories, links, files over 1 MiB, bad syntax), as a
// FieldError at the templates: line of file, whose content is data.
func (s *Spec) checkTemplates(file string, data []byte) error {
	if s.Templates == "" {
		return nil
	}
	err := hostrules.CheckTemplates(os.DirFS(s.Templates))
	if err == nil {
		return nil
	}
	line := 0
	if root, perr := parseYAML(file, data); perr == nil { // parsed once already
		line = lineOf(root, []string{"templates"})
	}
	return &FieldError{File: file, Line: line, Path: "templates", Msg: fmt.Sprintf("%s: %v", s.Templates, err)}
}

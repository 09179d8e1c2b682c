package hostrules

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/ferry-k3s/ferry/manifests"
)

// MaxTemplateSize is the largest template override a host accepts (1 MiB,
// the installer's own limit for the overrides it keeps in memory).
const MaxTemplateSize = 1 << 20

// CheckTemplates reports the first reason a host would refuse or ignore
// the template overrides in fsys (the spec's templates: directory), with
// what to do; nil when every host would use them as they are.
func CheckTemplates(fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("read the directory: %w: create it or remove templates: from the spec", err)
	}
	names := manifests.TemplateNames()
	for _, e := range entries {
		switch {
		case e.IsDir():
			return fmt.Errorf("%s is a directory: hosts read only the files at the top of the templates directory (%s) and would ignore it; move its files up or remove it", e.Name(), strings.Join(names, ", "))
		case !e.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file (links are not carried): copy the file in", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		if fi.Size() > MaxTemplateSize {
			return fmt.Errorf("%s is %d bytes, more than the %d a host accepts: shorten it", e.Name(), fi.Size(), MaxTemplateSize)
		}
	}
	// The installer's own loader: unknown names and syntax errors are
	// refused here exactly as on a host.
	if _, err := manifests.Load(fsys); err != nil {
		if strings.HasPrefix(err.Error(), "parse ") {
			return fmt.Errorf("%w: fix its text/template syntax", err)
		}
		return err
	}
	return nil
}

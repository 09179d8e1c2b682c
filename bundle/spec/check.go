package spec

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ferry-k3s/ferry/internal/hostrules"
)

// ValidValuePath checks a dotted Helm value path such as nfs.server, as
// used in a chart's required list: keys separated by single dots, none
// empty, no white space or control characters.
func ValidValuePath(p string) error {
	if p == "" {
		return errors.New("empty value path: write keys separated by dots, e.g. nfs.server")
	}
	for i, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("value path %q has an empty key at position %d: write keys separated by single dots, e.g. nfs.server", p, i+1)
		}
		if j := strings.IndexFunc(seg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); j >= 0 {
			return fmt.Errorf("value path %q has white space or a control character in key %q: remove it", p, seg)
		}
	}
	return nil
}

// checkTree checks what must hold before the tree can be decoded into a Spec.
func (c *checker) checkTree() {
	top, _ := c.tree.(map[string]any)
	md, _ := top["metadata"].(map[string]any)
	if exp, ok := md["expires"].(string); ok {
		if _, err := time.Parse(time.RFC3339, exp); err != nil {
			c.at([]string{"metadata", "expires"}, "%s is not an RFC 3339 date-time: write e.g. 2026-12-31T00:00:00Z", show(exp))
		}
	}
}

// checkSpec checks what the schema cannot express, after defaults.
func (c *checker) checkSpec(s *Spec) {
	releases := map[string]int{}
	for i, ch := range s.Charts {
		idx := strconv.Itoa(i)
		field := "name"
		if ch.ReleaseName != ch.Name {
			field = "releaseName"
		}
		if j, ok := releases[ch.ReleaseName]; ok {
			c.at([]string{"charts", idx, field}, "release %q is already used by charts[%d]: give one of them a unique releaseName", ch.ReleaseName, j)
		} else {
			releases[ch.ReleaseName] = i
		}
		for k, p := range ch.Required {
			if err := ValidValuePath(p); err != nil {
				c.at([]string{"charts", idx, "required", strconv.Itoa(k)}, "%v", err)
			}
		}
	}
	for i, ref := range s.Images.Extra {
		if hasScheme(ref) {
			c.at([]string{"images", "extra", strconv.Itoa(i)}, "%s is a URL: write an image reference without a scheme, e.g. docker.io/library/nginx:1.27", show(ref))
		}
	}
	for i, p := range s.Images.Exclude {
		if _, err := path.Match(p, ""); err != nil {
			c.at([]string{"images", "exclude", strconv.Itoa(i)}, "%s is not a valid pattern (%v): fix its brackets or escape them", show(p), err)
		}
	}
	hostPaths := map[string]int{}
	names := map[string]int{}
	for i, f := range s.Files {
		idx := strconv.Itoa(i)
		if clean := path.Clean(f.HostPath); clean != f.HostPath || hasDotDot(f.HostPath) {
			c.at([]string{"files", idx, "hostPath"}, "%s is not a clean absolute path: write it as %s", show(f.HostPath), show(path.Clean(f.HostPath)))
		} else if err := hostrules.CheckFilePath(f.HostPath); err != nil {
			c.at([]string{"files", idx, "hostPath"}, "%v", err)
		} else if j, ok := hostPaths[f.HostPath]; ok {
			c.at([]string{"files", idx, "hostPath"}, "%s is already the hostPath of files[%d]: place each file at its own path", show(f.HostPath), j)
		} else {
			hostPaths[f.HostPath] = i
		}
		nameField := []string{"files", idx, "name"}
		if nodeAt(c.root, nameField) == nil {
			nameField = []string{"files", idx, "source"}
		}
		switch {
		case !fileNameRE.MatchString(f.Name) || hasDotDot(f.Name):
			c.at(nameField, "bundle file name %s is not usable: set name to letters, digits, '.', '_', '-' and '/', without '..', e.g. k3s-selinux.rpm", show(f.Name))
		default:
			if j, ok := names[f.Name]; ok {
				c.at(nameField, "bundle file name %s is already used by files[%d]: set a unique name", show(f.Name), j)
			} else {
				names[f.Name] = i
			}
		}
	}
}

func hasDotDot(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return true
		}
	}
	return false
}

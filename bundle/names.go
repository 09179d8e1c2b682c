package bundle

import (
	"fmt"
	"path"
	"path/filepath"
)

// maxNameLen bounds an entry name; longer names are refused before any
// filesystem sees them.
const maxNameLen = 240

// CheckName reports whether name may be an entry of a bundle: a clean,
// relative, slash-separated path made of a conservative ASCII set
// (letters, digits and . _ - + @ = , ~ /). Backslashes, NUL, non-ASCII
// look-alikes, "..", absolute paths and empty segments are all refused, so
// that no name can leave the directory it is unpacked into on any
// filesystem.
func CheckName(name string) error {
	if name == "" {
		return &NameError{Name: name, Why: "empty name"}
	}
	if len(name) > maxNameLen {
		return &NameError{Name: name[:32] + "...", Why: fmt.Sprintf("name longer than %d bytes", maxNameLen)}
	}
	for i := 0; i < len(name); i++ {
		if !nameByte(name[i]) {
			return &NameError{Name: name, Why: fmt.Sprintf("byte %#02x at offset %d is not allowed in entry names", name[i], i)}
		}
	}
	if path.Clean(name) != name || !filepath.IsLocal(name) || name == "." {
		return &NameError{Name: name, Why: "not a clean relative path inside the bundle"}
	}
	for _, seg := range splitPath(name) {
		if seg == ".." || seg == "." {
			return &NameError{Name: name, Why: "path escapes the bundle"}
		}
	}
	return nil
}

func nameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '.', '_', '-', '+', '@', '=', ',', '~', '/':
		return true
	}
	return false
}

func splitPath(name string) []string {
	var segs []string
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			segs = append(segs, name[start:i])
			start = i + 1
		}
	}
	return segs
}

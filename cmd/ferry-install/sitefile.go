package main

import (
	"fmt"
	"io"
	"os"
)

// maxSiteFile bounds a --config or --values file (1 MiB): site settings,
// never bulk data.
const maxSiteFile = 1 << 20

// readSiteFile reads a file named by flag, refusing one over maxSiteFile
// or one that is not a regular file (a FIFO would block).
func readSiteFile(flag, name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: not a regular file: give a YAML file", flag, name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSiteFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, name, err)
	}
	if len(b) > maxSiteFile {
		return nil, fmt.Errorf("%s %s is larger than %d bytes: give only the settings", flag, name, maxSiteFile)
	}
	return b, nil
}

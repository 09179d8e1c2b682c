package main

import (
	"errors"
	"fmt"

	"github.com/ferry-k3s/ferry/internal/smallfile"
)

// maxSiteFile bounds a --config, --values or --token-file file (1 MiB):
// site settings, never bulk data.
const maxSiteFile = 1 << 20

// readSiteFile reads a file named by flag, refusing one over maxSiteFile
// or one that is not a regular file (opened without blocking, so a FIFO
// is refused, not waited on).
func readSiteFile(flag, name string) ([]byte, error) {
	b, err := smallfile.Read(name, maxSiteFile)
	if errors.Is(err, smallfile.ErrTooLarge) {
		return nil, fmt.Errorf("%s %s is larger than %d bytes: give only the settings", flag, name, maxSiteFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return b, nil
}

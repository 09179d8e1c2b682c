//go:build !linux

package preflight

import "errors"

// freeBytes is only implemented on Linux, where ferry-install runs.
func freeBytes(string) (int64, error) {
	return 0, errors.New("free space is only checked on Linux")
}

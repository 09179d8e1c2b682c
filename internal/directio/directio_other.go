//go:build !linux

package directio

import (
	"io"
	"os"
)

// Writer is Linux only: elsewhere NewWriter returns nil and callers write
// through the page cache.
type Writer struct{}

func NewWriter(*os.File) *Writer { return nil }

func (*Writer) Write(p []byte) (int, error)       { return len(p), nil }
func (*Writer) ReadFrom(io.Reader) (int64, error) { return 0, nil }
func (*Writer) Flush() error                      { return nil }
func (*Writer) Abort()                            {}

// Package smallfile reads the small files that sit beside a bundle or name
// a key (signatures, checksums, part indexes, PEM keys) with a cap, so that
// a hostile or mistaken path (a 512 MiB .sig, /dev/zero, a FIFO) costs at
// most the cap in memory and never blocks.
package smallfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrTooLarge is returned by Read for a file over its cap.
var ErrTooLarge = errors.New("file is larger than expected")

// Read returns the content of the regular file at path, or an error when it
// is not a regular file or holds more than max bytes. It opens without
// blocking, so a FIFO is refused rather than waited on. Errors wrap
// fs.ErrNotExist for a missing file.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a regular file (%s)", st.Mode().Type())}
	}
	if st.Size() > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, st.Size(), max)}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
	}
	return b, nil
}

package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/ferry-k3s/ferry/internal/smallfile"
	"github.com/ferry-k3s/ferry/signing"
)

// Caps on the side files Open reads before it parses them.
const (
	maxSumFileSize   = 4 << 10 // NAME.sha256: one sha256sum line
	maxPartIndexSize = 1 << 20 // NAME.parts.json: 999 parts fit in 150 KiB
)

// SideFileError is a file beside the bundle (NAME.sig, NAME.sha256,
// NAME.parts.json and its .sig) that is present but does not match the
// bundle, is unreadable or is over its cap.
type SideFileError struct {
	Path string
	Err  error
}

func (e *SideFileError) Error() string {
	return fmt.Sprintf("%s: %v: it does not belong to this bundle; copy the bundle's own %s, or remove it", e.Path, e.Err, sideName(e.Path))
}
func (e *SideFileError) Unwrap() error { return e.Err }

func sideName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// File is a bundle opened for reading together with its side files, under
// the one rule every command applies, ferry and ferry-install alike:
//
//   - a side file that is present must be valid: NAME.sig over the whole
//     stream, NAME.sha256, and each part's NAME.partNNN.sig; any of them
//     may be absent;
//   - a split bundle needs its index NAME.parts.json and, when a key is
//     trusted, NAME.parts.json.sig; a part beyond the index is refused;
//   - each part is hashed as it streams and checked against the signed
//     index when it ends, so a swapped, reordered, foreign or damaged part
//     is named by number.
//
// File reads the bundle stream. The checks that need the whole stream run
// when it reaches its end, so a Reader that reads to its end (Next until
// io.EOF) fails instead of ending when any of them fails. Without a trusted
// key (WithInsecureSkipSignature) no signature is checked, the checksum
// and the index still are.
type File struct {
	ctx      context.Context
	path     string
	base     string // the bundle's name: path without a .partNNN suffix
	verifier signing.Verifier
	src      io.Reader // the file, or the parts as one stream
	closers  []io.Closer
	parts    *partReader // nil for a single file

	mu      sync.Mutex
	sum     hash.Hash
	whole   signing.StreamVerifier // NAME.sig; nil when absent or unchecked
	wantSum []byte                 // NAME.sha256; nil when absent
	err     error                  // sticky, io.EOF at a checked end
	report  FileReport

	progress    func(read, total int64)
	read, total int64
}

// FileReport is what reading a File to its end established.
type FileReport struct {
	Manifest *Manifest
	// SHA256 of the whole stream (the joined parts of a split bundle).
	SHA256 []byte
	// Detached is true when NAME.sig existed and verified.
	Detached bool
	// Checksum is true when NAME.sha256 existed and matched.
	Checksum bool
	// Parts is the number of parts of a split bundle, 0 for one file.
	Parts int
}

// Open opens the bundle at path (a bundle file, or any part of a split
// bundle) and its side files, under the trust opts name (the same options
// NewReader takes: WithVerifier or WithInsecureSkipSignature). Everything
// that can be checked before the stream is read is checked here: the side
// files' sizes and syntax, the part index's signature, that every part is
// there with the size the index gives and no part beyond it. The caller
// must Close the File.
func Open(ctx context.Context, path string, opts ...ReadOption) (*File, error) {
	if path == "" {
		return nil, errors.New("no bundle given")
	}
	cfg := readConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.verifier == nil && !cfg.skipSig {
		return nil, errNoTrust
	}
	f := &File{ctx: ctx, path: path, base: path, sum: sha256.New(), progress: cfg.progress}
	if !cfg.skipSig {
		f.verifier = cfg.verifier
	}
	if base, ok := SplitBase(path); ok {
		f.base = base
		pr, err := openParts(ctx, base, f.verifier)
		if err != nil {
			return nil, err
		}
		f.parts, f.src = pr, pr
		f.closers = append(f.closers, pr)
		f.report.Parts = len(pr.idx.Parts)
		f.total = pr.idx.Size
	} else {
		file, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open bundle: %w", err)
		}
		st, err := file.Stat()
		if err != nil || !st.Mode().IsRegular() {
			file.Close()
			return nil, fmt.Errorf("open bundle %s: not a regular file", path)
		}
		f.total = st.Size()
		f.src = file
		f.closers = append(f.closers, file)
	}
	if err := f.readSideFiles(); err != nil {
		f.Close()
		return nil, err
	}
	f.src = bufio.NewReaderSize(f.src, 1<<20)
	return f, nil
}

// readSideFiles reads NAME.sha256 and, with a trusted key, NAME.sig.
func (f *File) readSideFiles() error {
	if b, err := readSide(f.base+".sha256", maxSumFileSize); err != nil {
		return err
	} else if b != nil {
		field, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		sum, err := hex.DecodeString(field)
		if err != nil || len(sum) != sha256.Size {
			return &SideFileError{Path: f.base + ".sha256", Err: errors.New("not a sha256sum line")}
		}
		f.wantSum = sum
	}
	if f.parts != nil && f.wantSum == nil {
		f.wantSum, _ = hex.DecodeString(f.parts.idx.SHA256)
	}
	if f.verifier == nil {
		return nil
	}
	sv, err := readSignature(f.base+".sig", f.verifier)
	if err != nil || sv == nil {
		return err
	}
	f.whole = sv
	return nil
}

// readSide reads a side file with a cap; a missing file is nil, nil.
func readSide(path string, max int64) ([]byte, error) {
	b, err := smallfile.Read(path, max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &SideFileError{Path: path, Err: err}
	}
	return b, nil
}

// readSignature reads a detached signature file and returns its stream
// check, nil when the file is absent.
func readSignature(path string, v signing.Verifier) (signing.StreamVerifier, error) {
	b, err := readSide(path, signing.MaxSignatureFileSize)
	if err != nil || b == nil {
		return nil, err
	}
	raw, err := signing.DecodeSignature(b)
	if err != nil {
		return nil, &SideFileError{Path: path, Err: err}
	}
	sv, err := v.NewStreamVerifier(raw)
	if err != nil {
		return nil, &SideFileError{Path: path, Err: err}
	}
	return sv, nil
}

// Read reads the bundle stream. At its end it returns the first failed
// check instead of io.EOF.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.src.Read(p)
	f.sum.Write(p[:n])
	if f.progress != nil && n > 0 {
		f.read += int64(n)
		f.progress(f.read, f.total)
	}
	if f.whole != nil {
		f.whole.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if cerr := f.finish(); cerr != nil {
			f.err = cerr
			return n, cerr
		}
		f.err = io.EOF
	case err != nil:
		f.err = err
	}
	return n, err
}

// finish checks what needs the whole stream.
func (f *File) finish() error {
	sum := f.sum.Sum(nil)
	f.report.SHA256 = sum
	if f.wantSum != nil {
		if !bytes.Equal(sum, f.wantSum) {
			where := f.base + ".sha256"
			if f.parts != nil {
				where = f.base + ".parts.json"
			}
			return &SideFileError{Path: where, Err: fmt.Errorf("says sha256 %x, the bundle is %x", f.wantSum, sum)}
		}
		f.report.Checksum = true
	}
	if f.whole != nil {
		if err := f.whole.Verify(f.ctx, sum); err != nil {
			return &SideFileError{Path: f.base + ".sig", Err: fmt.Errorf("%w: the bundle was changed after signing, or the signature is another bundle's", err)}
		}
		f.report.Detached = true
	}
	return nil
}

// diagnose is asked by a Reader whose stream failed: when the failure is
// inside a part of a split bundle, it reads the rest of that part and
// returns the part's own error if the part does not match the index, so
// that a swapped or foreign part is named even when decompression fails
// before the part's end. It returns nil when the part is sound.
func (f *File) diagnose() error {
	if f.parts == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts.diagnose()
}

// Report returns what reading the File established; SHA256 is set once
// the stream was read to its end.
func (f *File) Report() FileReport { return f.report }

// Size returns the bundle's size in bytes: the file's, or the sum of the
// parts the signed index lists.
func (f *File) Size() int64 { return f.total }

// Path returns the path the File was opened with.
func (f *File) Path() string { return f.path }

// Close closes the bundle file or parts.
func (f *File) Close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// errNoTrust is the refusal of a read that names no trusted key.
var errNoTrust = errors.New("open bundle: no trusted key: pass the signer's public key, or skip the signature check explicitly")

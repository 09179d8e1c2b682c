package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// DefaultCopyTimeout bounds one file's copy to one host (2 hours: 20 GB at
// 3 MB/s).
const DefaultCopyTimeout = 2 * time.Hour

// localFile is a file deploy sends: where it is here, its name in the
// host's work directory, and its size, digest and mode.
type localFile struct {
	Path   string
	Name   string
	Size   int64
	SHA256 string
	Mode   fs.FileMode
}

// hashFile reads path once for its size and sha256.
func hashFile(ctx context.Context, p, name string, mode fs.FileMode) (*localFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, f})
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", p, err)
	}
	return &localFile{Path: p, Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode}, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countingReader adds what it reads to the host's bytes sent and reports
// progress.
type countingReader struct {
	r io.Reader
	h *Host
}

func (c countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.h.sent.Add(int64(k))
	c.h.progress()
	return k, err
}

// remoteFile is what the host holds of a file: the digest of the complete
// file ("" when missing) and the size of a partial copy (-1 when none).
type remoteFile struct {
	SHA256  string
	Partial int64
}

// probeCommand prints the sha256 of dest (or -) and the size of
// dest.partial (or -), one per line.
func probeCommand(dest string) string {
	q := shellQuote(dest)
	pq := shellQuote(dest + ".partial")
	return fmt.Sprintf("if [ -f %s ]; then sha256sum %s | cut -d' ' -f1; else echo -; fi; if [ -f %s ]; then stat -c %%s %s; else echo -; fi", q, q, pq, pq)
}

func parseProbe(out []byte) (remoteFile, error) {
	lines := strings.Fields(string(out))
	r := remoteFile{Partial: -1}
	if len(lines) != 2 {
		return r, fmt.Errorf("unexpected answer %q: the host needs sha256sum, cut and stat (coreutils)", out)
	}
	if lines[0] != "-" {
		r.SHA256 = lines[0]
	}
	if lines[1] != "-" {
		n, err := strconv.ParseInt(lines[1], 10, 64)
		if err != nil {
			return r, fmt.Errorf("unexpected size %q", lines[1])
		}
		r.Partial = n
	}
	return r, nil
}

// sendFiles makes the host hold every file of files in its work
// directory (see sendFile), asking the host about all of them in one
// command first.
func sendFiles(ctx context.Context, h *Host, files []*localFile, timeout time.Duration) error {
	lines := make([]string, len(files))
	for i, f := range files {
		lines[i] = probeCommand(h.path(f.Name))
	}
	out, err := h.output(ctx, command{Line: strings.Join(lines, "; ")})
	if err != nil {
		return fmt.Errorf("look for the files on the host: %w", err)
	}
	fields := strings.Fields(string(out))
	if len(fields) != 2*len(files) {
		return fmt.Errorf("look for the files on the host: unexpected answer %q: the host needs sha256sum, cut and stat (coreutils)", out)
	}
	for i, f := range files {
		rf, err := parseProbe([]byte(fields[2*i] + "\n" + fields[2*i+1]))
		if err != nil {
			return fmt.Errorf("look for %s on the host: %w", f.Name, err)
		}
		if err := sendKnown(ctx, h, f, rf, timeout); err != nil {
			return err
		}
	}
	return nil
}

// sendFile makes the host hold f at WorkDir/f.Name. It sends nothing when
// the host already holds the same sha256; it appends to a partial copy
// left by a cut transfer from where that copy ends; it re-checks the
// digest on the host before the rename into place, and starts over once
// from the first byte when a resumed copy does not match.
func sendFile(ctx context.Context, h *Host, f *localFile, timeout time.Duration) error {
	return sendFiles(ctx, h, []*localFile{f}, timeout)
}

// sendKnown is sendFile once the host's copy, rf, is known.
func sendKnown(ctx context.Context, h *Host, f *localFile, rf remoteFile, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = DefaultCopyTimeout
	}
	dest := h.path(f.Name)
	if rf.SHA256 == f.SHA256 {
		h.detailf("%s: the host holds it already (sha256 %s): nothing sent", f.Name, f.SHA256)
		return nil
	}
	offset := rf.Partial
	if offset > f.Size {
		offset = -1
	}
	for attempt := 0; attempt < 2; attempt++ {
		if offset > 0 {
			h.logf("%s: resuming a cut copy at byte %d of %d", f.Name, offset, f.Size)
		} else {
			offset = 0
		}
		err := appendFrom(ctx, h, f, dest, offset, timeout)
		var re *RemoteError
		if !errors.As(err, &re) || re.Status != exitMismatch {
			return err
		}
		h.logf("%s: the copy on the host does not match sha256 %s: starting over", f.Name, f.SHA256)
		offset = 0
	}
	return fmt.Errorf("copy %s: the host's copy does not match after sending it again from the start: check the host's disk and memory", f.Name)
}

// Exit statuses of the copy command: the result does not match (and was
// removed), or the input ended early (the partial copy is kept).
const (
	exitMismatch = 99
	exitShort    = 98
)

// appendFrom streams f from offset into dest.partial on the host
// (truncating it first when offset is 0), then, in the same command,
// checks its sha256 and renames it to dest with f's mode; a mismatch exits
// exitMismatch and leaves nothing at dest.
func appendFrom(ctx context.Context, h *Host, f *localFile, dest string, offset int64, timeout time.Duration) error {
	src, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Path, err)
	}
	defer src.Close()
	if _, err := src.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", f.Path, err)
	}
	redir := ">"
	if offset > 0 {
		redir = ">>"
	}
	p := shellQuote(dest + ".partial")
	// A cut transfer ends cat's input early: the partial copy is shorter
	// than the file and is kept (exit exitShort) for the next run to
	// resume; only a complete one is hashed.
	line := fmt.Sprintf(`mkdir -p %s && cat %s %s && n=$(stat -c %%s %s) && if [ "$n" -lt %d ]; then exit %d; fi && s=$(sha256sum %s | cut -d' ' -f1) && if [ "$s" = %s ]; then chmod %o %s && mv -f %s %s; else rm -f %s; exit %d; fi`,
		shellQuote(path.Dir(dest)), redir, p, p, f.Size, exitShort, p, f.SHA256, f.Mode.Perm(), p, p, shellQuote(dest), p, exitMismatch)
	h.detailf("%s: sending %d bytes", f.Name, f.Size-offset)
	in := countingReader{r: io.LimitReader(src, f.Size-offset), h: h}
	err = h.run(ctx, command{Line: line, Stdin: in, Timeout: timeout})
	var re *RemoteError
	if err != nil && !(errors.As(err, &re) && re.Status == exitMismatch) {
		return fmt.Errorf("copy %s to the host: %w (a rerun resumes the copy)", f.Name, err)
	}
	return err
}

// sendSecret writes data to WorkDir/name on the host with mode 0600,
// through stdin (never a command line), atomically.
func sendSecret(ctx context.Context, h *Host, name string, data []byte) error {
	dest := h.path(name)
	tmp := dest + ".tmp"
	line := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && chmod 600 %s && mv -f %s %s",
		shellQuote(h.WorkDir), shellQuote(tmp), shellQuote(tmp), shellQuote(tmp), shellQuote(dest))
	in := countingReader{r: bytes.NewReader(data), h: h}
	if err := h.run(ctx, command{Line: line, Stdin: in, Secret: true}); err != nil {
		return fmt.Errorf("write %s on the host: %w", name, err)
	}
	return nil
}

package bundle

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/internal/atomicfile"
	"github.com/ferry-k3s/ferry/internal/directio"
	"github.com/ferry-k3s/ferry/signing"
)

// WriteFile writes a bundle to path through a temporary file in the same
// directory, renamed into place only when complete, and removed on any
// failure or cancellation (so a full disk or Ctrl-C leaves no partial
// bundle). When signed, it also writes path.sig, a detached signature over
// the whole file that `cosign verify-blob --key` accepts; it always writes
// path.sha256 in sha256sum format.
func WriteFile(ctx context.Context, path string, m Manifest, sources []Source, opts ...WriteOption) (*Result, error) {
	var cfg writeConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("write bundle: %w", err)
		}
	}
	if cfg.split > 0 {
		return writeSplit(ctx, path, m, sources, cfg, opts)
	}
	res, err := writeAtomic(path, func(w io.Writer) (*Result, error) { return Write(ctx, w, m, sources, opts...) })
	if err != nil {
		return nil, err
	}
	removeStaleSplit(path)
	if err := WriteSidecars(ctx, path, res.SHA256, cfg.signer); err != nil {
		os.Remove(path)
		return nil, err
	}
	return res, nil
}

// removeStaleSplit removes the parts, index and signatures of an earlier
// split build of the same name, which a reader pointed at a part would
// otherwise take for this bundle.
func removeStaleSplit(path string) {
	removeStaleParts(path, 1)
	os.Remove(path + ".parts.json")
	os.Remove(path + ".parts.json.sig")
}

// writeSplit writes the bundle as parts, renamed into place only when all
// are complete, then the signed index and the signatures: one over each
// part and one over the whole stream (as if the parts were joined).
func writeSplit(ctx context.Context, path string, m Manifest, sources []Source, cfg writeConfig, opts []WriteOption) (*Result, error) {
	pw := newPartWriter(path, cfg.split)
	bw := bufio.NewWriterSize(pw, 1<<20)
	res, err := Write(ctx, bw, m, sources, opts...)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = pw.commit()
	}
	if err != nil {
		pw.abort()
		return nil, err
	}
	os.Remove(path) // an earlier single-file build of the same name
	pw.index.SHA256 = hex.EncodeToString(res.SHA256)
	idx, err := json.MarshalIndent(pw.index, "", "  ")
	if err != nil {
		return nil, err
	}
	idx = append(idx, '\n')
	if err := atomicfile.Write(path+".parts.json", idx, 0o644); err != nil {
		return nil, fmt.Errorf("write %s.parts.json: %w", path, err)
	}
	parts := len(pw.index.Parts)
	removeStaleParts(path, parts+1)
	if err := writeSidecars(ctx, path, res.SHA256, cfg.signer, func() (io.ReadCloser, error) { return openJoined(path, parts) }); err != nil {
		return nil, err
	}
	if cfg.signer == nil {
		os.Remove(path + ".parts.json.sig")
		for i := range parts {
			os.Remove(PartPath(path, i+1) + ".sig")
		}
		return res, nil
	}
	sig, err := cfg.signer.Sign(ctx, idx)
	if err != nil {
		return nil, fmt.Errorf("sign %s.parts.json: %w", path, err)
	}
	if err := atomicfile.Write(path+".parts.json.sig", signing.EncodeSignature(sig), 0o644); err != nil {
		return nil, fmt.Errorf("write %s.parts.json.sig: %w", path, err)
	}
	for i, p := range pw.index.Parts {
		name := PartPath(path, i+1)
		raw, _ := hex.DecodeString(p.SHA256)
		sig, err := cfg.signer.SignStream(ctx, raw, func() (io.ReadCloser, error) { return os.Open(name) })
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", name, err)
		}
		if err := atomicfile.Write(name+".sig", signing.EncodeSignature(sig), 0o644); err != nil {
			return nil, fmt.Errorf("write %s.sig: %w", name, err)
		}
	}
	return res, nil
}

// removeStaleParts removes the parts from number from on, with their
// signatures, left by an earlier build of the same name: a reader refuses
// a part beyond the index.
func removeStaleParts(path string, from int) {
	for n := from; n <= 999; n++ {
		p := PartPath(path, n)
		if _, err := os.Lstat(p); err != nil {
			return
		}
		os.Remove(p)
		os.Remove(p + ".sig")
	}
}

// openJoined returns the first n parts of the bundle at path as one stream.
func openJoined(path string, n int) (io.ReadCloser, error) {
	var files []*os.File
	var readers []io.Reader
	for i := range n {
		f, err := os.Open(PartPath(path, i+1))
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
		readers = append(readers, f)
	}
	return &joined{Reader: io.MultiReader(readers...), files: files}, nil
}

type joined struct {
	io.Reader
	files []*os.File
}

func (j *joined) Close() error {
	for _, f := range j.files {
		f.Close()
	}
	return nil
}

// writeAtomic runs write against a temp file beside path and renames it to
// path on success.
func writeAtomic(path string, write func(io.Writer) (*Result, error)) (*Result, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("write bundle: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (*Result, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	var bw interface {
		io.Writer
		Flush() error
	}
	dw := directio.NewWriter(f)
	if dw != nil {
		bw = dw
	} else {
		bw = bufio.NewWriterSize(f, 1<<20)
	}
	res, err := write(bw)
	if err != nil {
		if dw != nil {
			dw.Abort()
		}
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("write bundle %s: %w", path, err))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(fmt.Errorf("write bundle %s: %w", path, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("write bundle %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write bundle %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("write bundle %s: %w", path, err)
	}
	return res, nil
}

// WriteSidecars writes path.sha256 (sha256sum format) and, with a signer,
// path.sig: a detached signature over the whole file, in the form stock
// `cosign verify-blob --key` checks. sum is the file's sha256. Each is
// written beside and renamed over, so a link planted at either name is
// replaced, never followed. Without a signer a stale path.sig is removed.
func WriteSidecars(ctx context.Context, path string, sum []byte, signer signing.Signer) error {
	return writeSidecars(ctx, path, sum, signer, func() (io.ReadCloser, error) { return os.Open(path) })
}

func writeSidecars(ctx context.Context, path string, sum []byte, signer signing.Signer, open func() (io.ReadCloser, error)) error {
	line := hex.EncodeToString(sum) + "  " + filepath.Base(path) + "\n"
	if err := atomicfile.Write(path+".sha256", []byte(line), 0o644); err != nil {
		return fmt.Errorf("write %s.sha256: %w", path, err)
	}
	if signer == nil {
		os.Remove(path + ".sig")
		return nil
	}
	sig, err := signer.SignStream(ctx, sum, open)
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	if err := atomicfile.Write(path+".sig", signing.EncodeSignature(sig), 0o644); err != nil {
		return fmt.Errorf("write %s.sig: %w", path, err)
	}
	return nil
}

// Resign streams the bundle in r into a new bundle at path signed by
// signer: every entry is checked against the old manifest as it is copied,
// and the new manifest is the old one with the new key id. The old
// signature is checked with ropts (pass WithInsecureSkipSignature to sign a
// bundle built unsigned).
func Resign(ctx context.Context, r io.Reader, path string, signer signing.Signer, ropts []ReadOption, wopts ...WriteOption) (*Result, error) {
	br, err := NewReader(ctx, r, append(ropts, WithAllowExpired())...)
	if err != nil {
		return nil, err
	}
	defer br.Close()
	m := *br.Manifest()
	sources := make([]Source, len(m.Entries))
	for i, e := range m.Entries {
		sources[i] = Source{Entry: e, Open: func() (io.ReadCloser, error) {
			got, content, err := br.Next()
			if err != nil {
				return nil, err
			}
			if got.Path != e.Path {
				return nil, errors.New("resign: entries out of step")
			}
			return io.NopCloser(content), nil
		}}
	}
	res, err := WriteFile(ctx, path, m, sources, append(wopts, WithSigner(signer))...)
	if err != nil {
		return nil, err
	}
	return res, nil
}

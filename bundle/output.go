package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

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
	if err := writeSidecars(ctx, path, res, cfg.signer); err != nil {
		os.Remove(path)
		return nil, err
	}
	return res, nil
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
	pw.index.SHA256 = hex.EncodeToString(res.SHA256)
	idx, err := json.MarshalIndent(pw.index, "", "  ")
	if err != nil {
		return nil, err
	}
	idx = append(idx, '\n')
	if err := os.WriteFile(path+".parts.json", idx, 0o644); err != nil {
		return nil, fmt.Errorf("write %s.parts.json: %w", path, err)
	}
	if err := writeSidecars(ctx, path, res, cfg.signer); err != nil {
		return nil, err
	}
	if cfg.signer == nil {
		return res, nil
	}
	sign := func(name string, digest []byte) error {
		sig, err := cfg.signer.SignDigest(ctx, digest)
		if err != nil {
			return fmt.Errorf("sign %s: %w", name, err)
		}
		return os.WriteFile(name+".sig", signing.EncodeSignature(sig), 0o644)
	}
	d := sha256.Sum256(idx)
	if err := sign(path+".parts.json", d[:]); err != nil {
		return nil, err
	}
	for i, p := range pw.index.Parts {
		raw, _ := hex.DecodeString(p.SHA256)
		if err := sign(PartPath(path, i+1), raw); err != nil {
			return nil, err
		}
	}
	return res, nil
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

func writeSidecars(ctx context.Context, path string, res *Result, signer signing.Signer) error {
	sum := hex.EncodeToString(res.SHA256) + "  " + filepath.Base(path) + "\n"
	if err := os.WriteFile(path+".sha256", []byte(sum), 0o644); err != nil {
		return fmt.Errorf("write %s.sha256: %w", path, err)
	}
	if signer == nil {
		os.Remove(path + ".sig")
		return nil
	}
	sig, err := signer.SignDigest(ctx, res.SHA256)
	if err != nil {
		return fmt.Errorf("sign %s: %w", path, err)
	}
	if err := os.WriteFile(path+".sig", signing.EncodeSignature(sig), 0o644); err != nil {
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

// VerifyDetached checks path.sig, if it exists, against the sha256 of the
// bundle file. It returns false when there is no detached signature.
func VerifyDetached(ctx context.Context, path string, digest []byte, v signing.Verifier) (bool, error) {
	b, err := os.ReadFile(path + ".sig")
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read detached signature: %w", err)
	}
	sig, err := signing.DecodeSignature(b)
	if err != nil {
		return false, fmt.Errorf("%s.sig: %w", path, err)
	}
	if err := v.VerifyDigest(ctx, digest, sig); err != nil {
		return false, fmt.Errorf("%s.sig does not verify with the trusted key: the file was changed after signing, or the key is wrong", path)
	}
	return true, nil
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

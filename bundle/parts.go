package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/signing"
)

// openParts reads and checks NAME.parts.json (signed, when v is not nil),
// checks that every part it lists is a regular file of the size it gives
// and that no part follows the last, and returns a reader over the parts
// in order.
func openParts(ctx context.Context, base string, v signing.Verifier) (*partReader, error) {
	idxPath := base + ".parts.json"
	b, err := readSide(idxPath, maxPartIndexSize)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, &SideFileError{Path: idxPath, Err: errors.New("missing: a split bundle is read through its index")}
	}
	if v != nil {
		sb, err := readSide(idxPath+".sig", signing.MaxSignatureFileSize)
		if err != nil {
			return nil, err
		}
		if sb == nil {
			return nil, &SideFileError{Path: idxPath + ".sig", Err: errors.New("missing: the part index must be signed")}
		}
		raw, err := signing.DecodeSignature(sb)
		if err != nil {
			return nil, &SideFileError{Path: idxPath + ".sig", Err: err}
		}
		if err := v.Verify(ctx, b, raw); err != nil {
			return nil, &SideFileError{Path: idxPath + ".sig", Err: err}
		}
	}
	var idx PartIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, &SideFileError{Path: idxPath, Err: fmt.Errorf("damaged: %v", err)}
	}
	if len(idx.Parts) == 0 || len(idx.Parts) > 999 {
		return nil, &SideFileError{Path: idxPath, Err: fmt.Errorf("lists %d parts, want 1 to 999", len(idx.Parts))}
	}
	var total int64
	for i, p := range idx.Parts {
		if p.Name != filepath.Base(PartPath(base, i+1)) {
			return nil, &SideFileError{Path: idxPath, Err: fmt.Errorf("lists %q as part %d", p.Name, i+1)}
		}
		if _, err := hex.DecodeString(p.SHA256); err != nil || len(p.SHA256) != 2*sha256.Size || p.Size <= 0 {
			return nil, &SideFileError{Path: idxPath, Err: fmt.Errorf("part %d has no valid size and sha256", i+1)}
		}
		total += p.Size
	}
	if total != idx.Size {
		return nil, &SideFileError{Path: idxPath, Err: fmt.Errorf("parts add up to %d bytes, the index says %d", total, idx.Size)}
	}
	r := &partReader{base: base, idx: &idx, v: v}
	for i, p := range idx.Parts {
		st, err := os.Stat(PartPath(base, i+1))
		switch {
		case err != nil:
			return nil, &PartError{Number: i + 1, Name: p.Name, Err: errors.New("missing")}
		case !st.Mode().IsRegular():
			return nil, &PartError{Number: i + 1, Name: p.Name, Err: errors.New("not a regular file")}
		case st.Size() != p.Size:
			return nil, &PartError{Number: i + 1, Name: p.Name, Err: fmt.Errorf("%d bytes, the signed index says %d", st.Size(), p.Size)}
		}
		if v != nil {
			sv, err := readSignature(PartPath(base, i+1)+".sig", v)
			if err != nil {
				return nil, err
			}
			r.sigs = append(r.sigs, sv)
		}
	}
	extra := len(idx.Parts) + 1
	if _, err := os.Lstat(PartPath(base, extra)); err == nil {
		return nil, &PartError{Number: extra, Name: filepath.Base(PartPath(base, extra)), Err: errors.New("is not in the signed index: it belongs to another bundle or an older build, remove it")}
	}
	return r, nil
}

// partReader reads the parts of a split bundle as one stream, in place,
// hashing each part as it streams and checking it against the index (and
// its own .sig, when present) at its end, before the next part is read.
type partReader struct {
	base string
	idx  *PartIndex
	v    signing.Verifier
	sigs []signing.StreamVerifier // per part; nil entries where no .sig is present

	next int // index of the part to open next
	cur  *os.File
	h    hash.Hash
	sv   signing.StreamVerifier
	n    int64
}

func (r *partReader) Read(p []byte) (int, error) {
	for {
		if r.cur == nil {
			if r.next == len(r.idx.Parts) {
				return 0, io.EOF
			}
			f, err := os.Open(PartPath(r.base, r.next+1))
			if err != nil {
				return 0, &PartError{Number: r.next + 1, Name: r.idx.Parts[r.next].Name, Err: errors.New("missing")}
			}
			r.cur, r.h, r.n = f, sha256.New(), 0
			r.sv = nil
			if r.sigs != nil {
				r.sv = r.sigs[r.next]
			}
			r.next++
		}
		part := r.idx.Parts[r.next-1]
		if rem := part.Size - r.n; int64(len(p)) > rem+1 {
			p = p[:rem+1] // one byte more shows a part that grew
		}
		n, err := r.cur.Read(p)
		r.h.Write(p[:n])
		if r.sv != nil {
			r.sv.Write(p[:n])
		}
		r.n += int64(n)
		if r.n > part.Size {
			return 0, r.partErr(fmt.Errorf("larger than the %d bytes the signed index says", part.Size))
		}
		if err == io.EOF {
			if cerr := r.endPart(); cerr != nil {
				return 0, cerr
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, r.partErr(err)
		}
		return n, nil
	}
}

// endPart closes the current part and checks it.
func (r *partReader) endPart() error {
	part := r.idx.Parts[r.next-1]
	r.cur.Close()
	r.cur = nil
	if r.n != part.Size {
		return r.partErr(fmt.Errorf("%d bytes, the signed index says %d", r.n, part.Size))
	}
	sum := r.h.Sum(nil)
	if got := hex.EncodeToString(sum); got != part.SHA256 {
		return r.partErr(r.mismatch(got))
	}
	if r.sv != nil {
		if err := r.sv.Verify(context.Background(), sum); err != nil {
			return &SideFileError{Path: PartPath(r.base, r.next) + ".sig", Err: err}
		}
	}
	return nil
}

// mismatch says what a part whose sha256 is got holds instead.
func (r *partReader) mismatch(got string) error {
	for i, p := range r.idx.Parts {
		if p.SHA256 == got && i != r.next-1 {
			return fmt.Errorf("holds part %d's bytes: the parts were renamed or reordered", i+1)
		}
	}
	return errors.New("sha256 does not match the signed index: it is another bundle's part, or damaged")
}

func (r *partReader) partErr(err error) error {
	return &PartError{Number: r.next, Name: r.idx.Parts[r.next-1].Name, Err: err}
}

// diagnose reads the rest of the current part and returns its error, or
// nil when it matches the index (see File.diagnose).
func (r *partReader) diagnose() error {
	if r.cur == nil {
		return nil
	}
	part := r.idx.Parts[r.next-1]
	buf := make([]byte, 1<<20)
	for {
		n, err := r.cur.Read(buf)
		r.h.Write(buf[:n])
		if r.sv != nil {
			r.sv.Write(buf[:n])
		}
		r.n += int64(n)
		switch {
		case r.n > part.Size:
			return r.partErr(fmt.Errorf("larger than the %d bytes the signed index says", part.Size))
		case err == io.EOF:
			return r.endPart()
		case err != nil:
			return r.partErr(err)
		}
	}
}

func (r *partReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}

package signing

import (
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
)

// PureEd25519 (RFC 8032 §5.1.6) hashes the whole message twice, once for
// the nonce r = H(prefix || M) and once for the challenge k = H(R || A || M),
// so crypto/ed25519 takes it as one []byte. A bundle is gigabytes, so this
// file computes the same signature, byte for byte, from a stream read twice
// (signing) or once (verifying), with filippo.io/edwards25519: the group
// arithmetic crypto/ed25519 itself is built on. signing_test checks it
// against crypto/ed25519 on random messages.

// signEd25519Stream signs the content open returns, reading it twice.
func signEd25519Stream(ctx context.Context, priv ed25519.PrivateKey, open func() (io.ReadCloser, error)) ([]byte, error) {
	if open == nil {
		return nil, errors.New("sign: Ed25519 signs the content itself: no content given")
	}
	h := sha512.Sum512(priv.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	pub := priv.Public().(ed25519.PublicKey)

	mh := sha512.New()
	mh.Write(h[32:])
	if err := copyContent(ctx, mh, open); err != nil {
		return nil, err
	}
	r, err := edwards25519.NewScalar().SetUniformBytes(mh.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	R := (&edwards25519.Point{}).ScalarBaseMult(r).Bytes()

	kh := sha512.New()
	kh.Write(R)
	kh.Write(pub)
	if err := copyContent(ctx, kh, open); err != nil {
		return nil, err
	}
	k, err := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	S := edwards25519.NewScalar().MultiplyAdd(k, s, r)
	return append(R, S.Bytes()...), nil
}

func copyContent(ctx context.Context, w io.Writer, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := rc.Read(buf)
		w.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sign: read content: %w", err)
		}
	}
}

// ed25519StreamVerifier computes k = H(R || A || M) as M is written and
// checks [S]B = R + [k]A at the end, as crypto/ed25519.Verify does.
type ed25519StreamVerifier struct {
	pub  ed25519.PublicKey
	sig  []byte
	hash interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newEd25519StreamVerifier(pub ed25519.PublicKey, sig []byte) (StreamVerifier, error) {
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: an Ed25519 signature is %d bytes, got %d", ErrBadSignature, ed25519.SignatureSize, len(sig))
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	return &ed25519StreamVerifier{pub: pub, sig: sig, hash: h}, nil
}

func (v *ed25519StreamVerifier) Write(p []byte) (int, error) { return v.hash.Write(p) }

func (v *ed25519StreamVerifier) Verify(ctx context.Context, _ []byte) error {
	bad := fmt.Errorf("%w (Ed25519)", ErrBadSignature)
	A, err := (&edwards25519.Point{}).SetBytes(v.pub)
	if err != nil {
		return bad
	}
	k, err := edwards25519.NewScalar().SetUniformBytes(v.hash.Sum(nil))
	if err != nil {
		return bad
	}
	S, err := edwards25519.NewScalar().SetCanonicalBytes(v.sig[32:])
	if err != nil {
		return bad
	}
	minusA := (&edwards25519.Point{}).Negate(A)
	R := (&edwards25519.Point{}).VarTimeDoubleScalarBaseMult(k, minusA, S)
	if string(R.Bytes()) != string(v.sig[:32]) {
		return bad
	}
	return nil
}

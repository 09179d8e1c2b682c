package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// ErrBadSignature is wrapped by every signature that does not verify.
var ErrBadSignature = errors.New("signature does not verify")

// Verifier checks the signatures a Signer makes, with a trusted public key
// the policy accepts.
type Verifier interface {
	// Verify checks sig over message.
	Verify(ctx context.Context, message, sig []byte) error
	// NewStreamVerifier returns a check of sig over content too large to
	// hold: write the content to it, then call Verify with its sha256.
	NewStreamVerifier(sig []byte) (StreamVerifier, error)
	// PublicKey returns the trusted key.
	PublicKey() crypto.PublicKey
	// KeyID returns KeyID(PublicKey()).
	KeyID() string
}

// StreamVerifier checks one signature over streamed content. Digest key
// types ignore what is written and check the sha256 given to Verify;
// Ed25519 hashes what is written and ignores it.
type StreamVerifier interface {
	io.Writer
	Verify(ctx context.Context, sum []byte) error
}

// NewVerifier returns a Verifier for a public key the policy accepts.
func NewVerifier(pub crypto.PublicKey) (Verifier, error) {
	if err := CheckKey(pub); err != nil {
		return nil, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	// PureEd25519 for Ed25519 keys (no ed25519ph option), SHA-256 for the
	// rest: what cosign verify-blob --key loads.
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load verifier: %w", err)
	}
	return &keyVerifier{v: v, pub: pub, id: id}, nil
}

// LoadVerifier reads a PEM public key file and returns its Verifier.
func LoadVerifier(path string) (Verifier, error) {
	pub, err := LoadPublicKey(path)
	if err != nil {
		return nil, err
	}
	return NewVerifier(pub)
}

type keyVerifier struct {
	v   signature.Verifier
	pub crypto.PublicKey
	id  string
}

func (v *keyVerifier) Verify(ctx context.Context, message, sig []byte) error {
	if err := v.v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(message), options.WithContext(ctx)); err != nil {
		return fmt.Errorf("%w with key %s", ErrBadSignature, v.id)
	}
	return nil
}

func (v *keyVerifier) NewStreamVerifier(sig []byte) (StreamVerifier, error) {
	if pub, ok := v.pub.(ed25519.PublicKey); ok {
		return newEd25519StreamVerifier(pub, sig)
	}
	return &digestStreamVerifier{v: v, sig: sig}, nil
}

func (v *keyVerifier) PublicKey() crypto.PublicKey { return v.pub }
func (v *keyVerifier) KeyID() string               { return v.id }

type digestStreamVerifier struct {
	v   *keyVerifier
	sig []byte
}

func (d *digestStreamVerifier) Write(p []byte) (int, error) { return len(p), nil }

func (d *digestStreamVerifier) Verify(ctx context.Context, sum []byte) error {
	if len(sum) != sha256.Size {
		return fmt.Errorf("verify: a sha256 digest is %d bytes, got %d", sha256.Size, len(sum))
	}
	err := d.v.v.VerifySignature(bytes.NewReader(d.sig), nil, options.WithDigest(sum), options.WithCryptoSignerOpts(crypto.SHA256), options.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%w with key %s", ErrBadSignature, d.v.id)
	}
	return nil
}

// MaxSignatureFileSize bounds a signature file (a base64 RSA-8192
// signature is 1.4 KiB).
const MaxSignatureFileSize = 16 << 10

// EncodeSignature returns sig as cosign writes blob signatures: standard
// base64, no newline.
func EncodeSignature(sig []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(sig))
}

// DecodeSignature reverses EncodeSignature, tolerating surrounding space.
func DecodeSignature(b []byte) ([]byte, error) {
	if len(b) > MaxSignatureFileSize {
		return nil, fmt.Errorf("signature is %d bytes, at most %d", len(b), MaxSignatureFileSize)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("signature is not base64: %w", err)
	}
	return sig, nil
}

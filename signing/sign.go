package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ferry-k3s/ferry/internal/smallfile"
)

// Signer makes the two kinds of signature a bundle carries, both in the
// form stock `cosign verify-blob --key` checks: one over a small message
// held in memory (bundle.json, a part index) and one over a stream too
// large to hold (the whole bundle file, each part).
//
// ECDSA (P-256, P-384, P-521) and RSA keys sign the message's sha256 (RSA
// as PKCS #1 v1.5), Ed25519 keys the bytes themselves, never a digest:
// for every key type two different messages get different signatures.
type Signer interface {
	// Sign signs message.
	Sign(ctx context.Context, message []byte) ([]byte, error)
	// SignStream signs the content open returns; sum is its sha256, which
	// the caller has from writing it. Digest-signing keys sign sum and
	// never call open; Ed25519 reads the content twice (RFC 8032's nonce
	// and challenge each hash the whole message) and never holds it.
	SignStream(ctx context.Context, sum []byte, open func() (io.ReadCloser, error)) ([]byte, error)
	// PublicKey returns the key that verifies this signer's signatures.
	PublicKey() crypto.PublicKey
}

// ErrKMSUnsupported is returned for kms:// references: the provider
// plumbing exists (Signer), but no KMS provider is linked in this build.
var ErrKMSUnsupported = errors.New("kms:// keys are not supported by this build: sign with a key file made by 'ferry keygen'")

// LoadSigner returns a Signer for ref: a path to a private key PEM file
// (cosign's encrypted format, or unencrypted PKCS#8/SEC1/PKCS#1). pass is
// asked only for encrypted keys.
func LoadSigner(ref string, pass PassFunc) (Signer, error) {
	k, err := ReadKey(ref, pass)
	if err != nil {
		return nil, err
	}
	return k.Signer()
}

// Key is a private key file read from disk, with its password, not yet
// decrypted. Decrypting a cosign key runs scrypt (about 0.1 s of CPU and
// 64 MiB), which a caller can do beside other work: ferry build does it
// while it resolves the spec.
type Key struct {
	ref       string
	pem       []byte
	encrypted bool
	password  []byte
}

// ReadKey reads the key file ref (at most MaxKeyFileSize) and, for an
// encrypted key, asks pass for its password now, so that a prompt comes
// before any other output.
func ReadKey(ref string, pass PassFunc) (*Key, error) {
	if strings.Contains(ref, "kms://") {
		return nil, fmt.Errorf("signing key %s: %w", ref, ErrKMSUnsupported)
	}
	b, err := smallfile.Read(ref, MaxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	k := &Key{ref: ref, pem: b, encrypted: bytes.Contains(b, []byte("ENCRYPTED"))}
	if k.encrypted {
		if k.password, err = pass(false); err != nil {
			return nil, fmt.Errorf("signing key %s: %w (%v)", ref, ErrWrongPassword, err)
		}
	}
	return k, nil
}

// Signer decrypts the key and checks its type against the key policy
// (CheckKey). It may be called from any goroutine.
func (k *Key) Signer() (Signer, error) {
	var pf cryptoutils.PassFunc
	if k.encrypted {
		pf = cryptoutils.PassFunc(StaticPass(k.password))
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(k.pem, pf)
	if err != nil {
		if pf != nil {
			return nil, fmt.Errorf("signing key %s: %w (%v)", k.ref, ErrWrongPassword, err)
		}
		return nil, fmt.Errorf("signing key %s: not a private key PEM (%v): pass the .key file made by 'ferry keygen'", k.ref, err)
	}
	cs, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: %w: %T cannot sign", k.ref, ErrKeyType, priv)
	}
	if err := CheckKey(cs.Public()); err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ref, err)
	}
	return NewSigner(cs)
}

// NewSigner returns a Signer for a private key the policy accepts. ECDSA
// signatures use RFC 6979 deterministic nonces and RSA uses PKCS #1 v1.5,
// so the same bundle and key always give the same signature bytes
// (bundles are reproducible); Ed25519 is deterministic by design.
func NewSigner(priv crypto.Signer) (Signer, error) {
	if err := CheckKey(priv.Public()); err != nil {
		return nil, err
	}
	switch k := priv.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		return &digestSigner{priv: k}, nil
	case ed25519.PrivateKey:
		return &ed25519Signer{priv: k}, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrKeyType, priv)
}

// digestSigner signs sha256 digests with an ECDSA or RSA key.
type digestSigner struct{ priv crypto.Signer }

func (s *digestSigner) Sign(ctx context.Context, message []byte) ([]byte, error) {
	d := sha256.Sum256(message)
	return s.sign(d[:])
}

func (s *digestSigner) SignStream(ctx context.Context, sum []byte, _ func() (io.ReadCloser, error)) ([]byte, error) {
	if len(sum) != sha256.Size {
		return nil, fmt.Errorf("sign: a sha256 digest is %d bytes, got %d", sha256.Size, len(sum))
	}
	return s.sign(sum)
}

func (s *digestSigner) sign(digest []byte) ([]byte, error) {
	var rnd io.Reader // nil: ECDSA derives its nonce from key and digest (RFC 6979)
	if _, ok := s.priv.(*rsa.PrivateKey); ok {
		rnd = rand.Reader // PKCS #1 v1.5 output does not depend on it; only blinding does
	}
	sig, err := s.priv.Sign(rnd, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

func (s *digestSigner) PublicKey() crypto.PublicKey { return s.priv.Public() }

// ed25519Signer signs the bytes themselves (PureEdDSA, RFC 8032), as
// `cosign sign-blob --tlog-upload=false` does and `cosign verify-blob`
// checks.
type ed25519Signer struct{ priv ed25519.PrivateKey }

func (s *ed25519Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, message), nil
}

func (s *ed25519Signer) SignStream(ctx context.Context, _ []byte, open func() (io.ReadCloser, error)) ([]byte, error) {
	return signEd25519Stream(ctx, s.priv, open)
}

func (s *ed25519Signer) PublicKey() crypto.PublicKey { return s.priv.Public() }

package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Signer signs sha256 digests. Implementations: a local key file
// (LoadSigner); KMS providers fit the same interface.
type Signer interface {
	// SignDigest signs a sha256 digest and returns the raw signature
	// (ASN.1 DER for ECDSA), as cosign does for blobs.
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
	// PublicKey returns the key that verifies this signer's signatures.
	PublicKey() crypto.PublicKey
}

// Verifier checks signatures over sha256 digests with a trusted public key.
type Verifier interface {
	VerifyDigest(ctx context.Context, digest, sig []byte) error
	PublicKey() crypto.PublicKey
}

// ErrKMSUnsupported is returned for kms:// references: the provider
// plumbing exists (Signer), but no KMS provider is linked in this build.
var ErrKMSUnsupported = errors.New("kms:// keys are not supported by this build: sign with a key file made by 'ferry keygen'")

// LoadSigner returns a Signer for ref: a path to a private key PEM file
// (cosign's encrypted format, or unencrypted PKCS#8/SEC1). pass is asked
// only for encrypted keys.
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

// ReadKey reads the key file ref and, for an encrypted key, asks pass for
// its password now, so that a prompt comes before any other output.
func ReadKey(ref string, pass PassFunc) (*Key, error) {
	if strings.HasPrefix(ref, "kms://") || strings.Contains(ref, "kms://") {
		return nil, fmt.Errorf("signing key %s: %w", ref, ErrKMSUnsupported)
	}
	b, err := os.ReadFile(ref)
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

// Signer decrypts the key. It may be called from any goroutine.
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
	sv, err := signature.LoadSignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ref, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", k.ref, err)
	}
	ks := &keySigner{sv: sv, pub: pub}
	ks.ecdsa, _ = priv.(*ecdsa.PrivateKey)
	return ks, nil
}

type keySigner struct {
	sv    signature.SignerVerifier
	ecdsa *ecdsa.PrivateKey
	pub   crypto.PublicKey
}

// SignDigest signs with RFC 6979 deterministic nonces for ECDSA keys, so
// that the same bundle and key give the same signature bytes (bundles are
// reproducible); other key types go through sigstore's signer.
func (s *keySigner) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if s.ecdsa != nil {
		sig, err := s.ecdsa.Sign(nil, digest, crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		return sig, nil
	}
	sig, err := s.sv.SignMessage(bytes.NewReader(nil), options.WithDigest(digest), options.WithCryptoSignerOpts(crypto.SHA256), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

func (s *keySigner) PublicKey() crypto.PublicKey { return s.pub }

// NewVerifier returns a Verifier for a public key.
func NewVerifier(pub crypto.PublicKey) (Verifier, error) {
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("load verifier: %w", err)
	}
	return &keyVerifier{v: v, pub: pub}, nil
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
}

func (v *keyVerifier) VerifyDigest(ctx context.Context, digest, sig []byte) error {
	return v.v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(nil), options.WithDigest(digest), options.WithCryptoSignerOpts(crypto.SHA256), options.WithContext(ctx))
}

func (v *keyVerifier) PublicKey() crypto.PublicKey { return v.pub }

// EncodeSignature returns sig as cosign writes blob signatures: standard
// base64, no newline.
func EncodeSignature(sig []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(sig))
}

// DecodeSignature reverses EncodeSignature, tolerating surrounding space.
func DecodeSignature(b []byte) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("signature is not base64: %w", err)
	}
	return sig, nil
}

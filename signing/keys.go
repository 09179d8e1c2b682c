package signing

import (
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ferry-k3s/ferry/internal/atomicfile"
)

// PassFunc returns the password of an encrypted private key. confirm is
// true when a new key is being made and the password should be asked twice.
type PassFunc func(confirm bool) ([]byte, error)

// StaticPass returns a PassFunc that always answers pw.
func StaticPass(pw []byte) PassFunc {
	return func(bool) ([]byte, error) { return pw, nil }
}

// GenerateKeyPair makes a new ECDSA P-256 key pair and returns the private
// key in cosign's encrypted PEM format ("ENCRYPTED SIGSTORE PRIVATE KEY",
// scrypt + secretbox) and the public key as PEM ("PUBLIC KEY").
func GenerateKeyPair(pass PassFunc) (privPEM, pubPEM []byte, err error) {
	return cryptoutils.GeneratePEMEncodedECDSAKeyPair(elliptic.P256(), cryptoutils.PassFunc(pass))
}

// WriteKeyPair writes prefix.key (mode 0600) and prefix.pub (mode 0644). It
// refuses to overwrite an existing key so that no signing key is lost.
func WriteKeyPair(prefix string, pass PassFunc) (keyPath, pubPath string, err error) {
	keyPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return "", "", fmt.Errorf("keygen: %s already exists: move it away or choose another --output-prefix", p)
		}
	}
	priv, pub, err := GenerateKeyPair(pass)
	if err != nil {
		return "", "", fmt.Errorf("keygen: %w", err)
	}
	if err := atomicfile.Write(keyPath, priv, 0o600); err != nil {
		return "", "", fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := atomicfile.Write(pubPath, pub, 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", fmt.Errorf("write %s: %w", pubPath, err)
	}
	return keyPath, pubPath, nil
}

// LoadPublicKey reads a PEM public key file (ferry.pub or cosign.pub).
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: not a PEM public key (%v): pass the .pub file made by 'ferry keygen' or 'cosign generate-key-pair'", path, err)
	}
	return pub, nil
}

// KeyID names a public key: "sha256:" and the hex sha256 of its DER
// (SubjectPublicKeyInfo) encoding.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// ErrWrongPassword: an encrypted private key could not be decrypted.
var ErrWrongPassword = errors.New("private key could not be decrypted: check FERRY_PASSWORD")

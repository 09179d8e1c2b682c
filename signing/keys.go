package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ferry-k3s/ferry/internal/atomicfile"
	"github.com/ferry-k3s/ferry/internal/smallfile"
)

// MaxKeyFileSize bounds a key file read from disk (64 KiB; a PEM RSA-8192
// private key is under 7 KiB).
const MaxKeyFileSize = 64 << 10

// PassFunc returns the password of an encrypted private key. confirm is
// true when a new key is being made and the password should be asked twice.
type PassFunc func(confirm bool) ([]byte, error)

// StaticPass returns a PassFunc that always answers pw.
func StaticPass(pw []byte) PassFunc {
	return func(bool) ([]byte, error) { return pw, nil }
}

// ErrEmptyPassword: keygen was given an empty password, which would leave
// the private key readable by anyone who copies the file.
var ErrEmptyPassword = errors.New("the password is empty: a signing key must be encrypted, set FERRY_PASSWORD or answer the prompt")

// GenerateKeyPair makes a new key pair of type t and returns the private
// key in cosign's encrypted PEM format ("ENCRYPTED SIGSTORE PRIVATE KEY",
// PKCS#8 under scrypt + secretbox) and the public key as PEM ("PUBLIC
// KEY"). It refuses an empty password.
func GenerateKeyPair(t KeyType, pass PassFunc) (privPEM, pubPEM []byte, err error) {
	t, err = ParseKeyType(string(t))
	if err != nil {
		return nil, nil, err
	}
	var priv crypto.Signer
	switch t {
	case KeyTypeP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyTypeP384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyTypeP521:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case KeyTypeEd25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		bits, _ := rsaBits(t)
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	}
	if err != nil {
		return nil, nil, err
	}
	pw, err := pass(true)
	if err != nil {
		return nil, nil, err
	}
	if len(pw) == 0 {
		return nil, nil, ErrEmptyPassword
	}
	der, err := cryptoutils.MarshalPrivateKeyToEncryptedDER(priv, cryptoutils.PassFunc(StaticPass(pw)))
	if err != nil {
		return nil, nil, err
	}
	pubPEM, err = cryptoutils.MarshalPublicKeyToPEM(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return cryptoutils.PEMEncode(cryptoutils.EncryptedSigstorePrivateKeyPEMType, der), pubPEM, nil
}

// WriteKeyPair writes prefix.key (mode 0600) and prefix.pub (mode 0644) of
// type t. It refuses to overwrite an existing key so that no signing key is
// lost.
func WriteKeyPair(prefix string, t KeyType, pass PassFunc) (keyPath, pubPath string, err error) {
	keyPath, pubPath = prefix+".key", prefix+".pub"
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("keygen: %s already exists: move it away or write elsewhere", p)
		}
	}
	priv, pub, err := GenerateKeyPair(t, pass)
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

// LoadPublicKey reads a PEM public key file (ferry.pub or cosign.pub, at
// most MaxKeyFileSize) and checks it against the key policy (CheckKey).
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	b, err := smallfile.Read(path, MaxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKey parses a PEM public key and checks it against the key
// policy (CheckKey).
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("not a PEM public key (%v): pass the .pub file made by 'ferry keygen' or 'cosign generate-key-pair'", err)
	}
	if err := CheckKey(pub); err != nil {
		return nil, err
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

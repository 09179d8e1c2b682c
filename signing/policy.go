package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrKeyType is wrapped by every refusal of a key the policy does not
// accept (SPEC §4a), at keygen, sign, build and verify alike.
var ErrKeyType = errors.New("key type refused")

// RSA moduli the policy accepts, in bits. Under 2048 is breakable; the cap
// bounds what a hostile public key can make a verifier compute.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// CheckKey reports whether pub is a key type Ferry signs and verifies with:
// ECDSA on P-256, P-384 or P-521; RSA of MinRSABits to MaxRSABits; or
// Ed25519, whose signatures Ferry always makes over the signed bytes
// themselves. Anything else is refused with the reason, wrapping
// ErrKeyType.
func CheckKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("%w: ECDSA on curve %s: use P-256 (the default), P-384 or P-521", ErrKeyType, curveName(k.Curve))
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits is under the %d-bit minimum: make a new key with 'ferry keygen'", ErrKeyType, bits, MinRSABits)
		}
		if bits > MaxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits is over the %d-bit maximum", ErrKeyType, bits, MaxRSABits)
		}
		return nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: Ed25519 key of %d bytes", ErrKeyType, len(k))
		}
		return nil
	case nil:
		return fmt.Errorf("%w: no key", ErrKeyType)
	}
	return fmt.Errorf("%w: %T is not ECDSA P-256/P-384/P-521, RSA >= %d bits or Ed25519", ErrKeyType, pub, MinRSABits)
}

func curveName(c elliptic.Curve) string {
	if c == nil || c.Params() == nil {
		return "unknown"
	}
	return c.Params().Name
}

// KeyType names a kind of key pair GenerateKeyPair makes.
type KeyType string

// Key types for GenerateKeyPair. KeyTypeDefault is what keygen makes
// without --type, and what cosign generate-key-pair makes.
const (
	KeyTypeDefault KeyType = KeyTypeP256
	KeyTypeP256    KeyType = "ecdsa-p256"
	KeyTypeP384    KeyType = "ecdsa-p384"
	KeyTypeP521    KeyType = "ecdsa-p521"
	KeyTypeEd25519 KeyType = "ed25519"
)

// KeyTypes lists what ParseKeyType accepts, for help texts.
const KeyTypes = "ecdsa-p256 (default), ecdsa-p384, ecdsa-p521, rsa-2048, rsa-3072, rsa-4096, ed25519"

// ParseKeyType checks a --type value. rsa-N is accepted for N from
// MinRSABits to MaxRSABits in steps of 1024; rsa-1024 and ecdsa-p224 are
// refused with the policy's reason.
func ParseKeyType(s string) (KeyType, error) {
	t := KeyType(strings.ToLower(strings.TrimSpace(s)))
	switch t {
	case "":
		return KeyTypeDefault, nil
	case KeyTypeP256, KeyTypeP384, KeyTypeP521, KeyTypeEd25519:
		return t, nil
	case "ecdsa-p224":
		return "", fmt.Errorf("%w: ECDSA on curve P-224: use one of %s", ErrKeyType, KeyTypes)
	}
	if n, ok := rsaBits(t); ok {
		switch {
		case n < MinRSABits:
			return "", fmt.Errorf("%w: RSA key of %d bits is under the %d-bit minimum: use one of %s", ErrKeyType, n, MinRSABits, KeyTypes)
		case n > MaxRSABits || n%1024 != 0:
			return "", fmt.Errorf("%w: RSA key of %d bits: use a multiple of 1024 from %d to %d", ErrKeyType, n, MinRSABits, MaxRSABits)
		}
		return t, nil
	}
	return "", fmt.Errorf("%w: unknown key type %q: use one of %s", ErrKeyType, s, KeyTypes)
}

func rsaBits(t KeyType) (int, bool) {
	rest, ok := strings.CutPrefix(string(t), "rsa-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

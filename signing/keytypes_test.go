package signing_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/sigstore/sigstore/pkg/cryptoutils"

	"github.com/ferry-k3s/ferry/signing"
)

// acceptedTypes are the key types SPEC §4a accepts, each generated here.
var acceptedTypes = []signing.KeyType{"ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-2048", "rsa-3072", "ed25519"}

// newSigner generates a key pair of type kt through the same path keygen
// takes and loads both halves back.
func newSigner(t *testing.T, kt signing.KeyType) (signing.Signer, signing.Verifier) {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[kt]; ok {
		return k.s, k.v
	}
	privPEM, pubPEM, err := signing.GenerateKeyPair(kt, signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatalf("generate %s: %v", kt, err)
	}
	priv, err := cryptoutils.UnmarshalPEMToPrivateKey(privPEM, cryptoutils.StaticPasswordFunc([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signing.NewSigner(priv.(crypto.Signer))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	keyCache[kt] = cachedKey{s, v}
	return s, v
}

// RSA keys take a while to make: each type is generated once per run.
var (
	keyMu    sync.Mutex
	keyCache = map[signing.KeyType]cachedKey{}
)

type cachedKey struct {
	s signing.Signer
	v signing.Verifier
}

func streamOf(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// TestSignaturesBind is the regression test for the Ed25519 flaw: sigstore's
// Ed25519 signer ignores a digest option, so signing "a digest" signed the
// empty message and every manifest got the same signature. For every
// accepted type, two different messages must get different signatures, and
// a signature must verify only over what it was made for, in memory and
// streamed.
func TestSignaturesBind(t *testing.T) {
	ctx := context.Background()
	for _, kt := range acceptedTypes {
		t.Run(string(kt), func(t *testing.T) {
			s, v := newSigner(t, kt)
			a := []byte(`{"name":"factory-edge","files":[]}`)
			b := []byte(`{"name":"factory-edge","files":["/etc/cron.d/x"]}`)
			sigA, err := s.Sign(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			sigB, _ := s.Sign(ctx, b)
			if bytes.Equal(sigA, sigB) {
				t.Fatal("two different messages got the same signature")
			}
			if again, _ := s.Sign(ctx, a); !bytes.Equal(again, sigA) {
				t.Error("signatures are not deterministic: bundles would not be reproducible")
			}
			if err := v.Verify(ctx, a, sigA); err != nil {
				t.Fatalf("own signature does not verify: %v", err)
			}
			if err := v.Verify(ctx, b, sigA); !errors.Is(err, signing.ErrBadSignature) {
				t.Fatalf("a signature copied onto another message verified: %v", err)
			}
			if err := v.Verify(ctx, nil, sigA); err == nil {
				t.Fatal("a signature verified over the empty message")
			}

			// Streamed: the whole-file .sig.
			big := make([]byte, 3<<20+17)
			rand.Read(big)
			sum := sha256.Sum256(big)
			ssig, err := s.SignStream(ctx, sum[:], streamOf(big))
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyStream(ctx, v, ssig, big); err != nil {
				t.Fatalf("own stream signature does not verify: %v", err)
			}
			big[len(big)/2] ^= 1
			if err := verifyStream(ctx, v, ssig, big); !errors.Is(err, signing.ErrBadSignature) {
				t.Fatalf("a stream signature verified over changed content: %v", err)
			}
			// A message signature and a stream signature over the same bytes
			// are the same signature: stock cosign checks both one way.
			msg := []byte("parts index")
			ms, _ := s.Sign(ctx, msg)
			msum := sha256.Sum256(msg)
			if err := verifyStream(ctx, v, ms, msg); err != nil {
				t.Errorf("message signature does not verify as a stream: %v", err)
			}
			if st, _ := s.SignStream(ctx, msum[:], streamOf(msg)); !bytes.Equal(st, ms) {
				t.Error("stream signature differs from the message signature over the same bytes")
			}
		})
	}
}

func verifyStream(ctx context.Context, v signing.Verifier, sig, content []byte) error {
	sv, err := v.NewStreamVerifier(sig)
	if err != nil {
		return err
	}
	// Odd chunk sizes: the verifier must not depend on how it is fed.
	for rest := content; len(rest) > 0; {
		n := min(len(rest), 1+mrand.IntN(70000))
		sv.Write(rest[:n])
		rest = rest[n:]
	}
	sum := sha256.Sum256(content)
	return sv.Verify(ctx, sum[:])
}

// TestEd25519StreamMatchesStdlib checks the streaming PureEd25519 signer and
// verifier against crypto/ed25519 byte for byte.
func TestEd25519StreamMatchesStdlib(t *testing.T) {
	ctx := context.Background()
	for i := range 50 {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		msg := make([]byte, mrand.IntN(5000))
		rand.Read(msg)
		s, err := signing.NewSigner(priv)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(msg)
		got, err := s.SignStream(ctx, sum[:], streamOf(msg))
		if err != nil {
			t.Fatal(err)
		}
		if want := ed25519.Sign(priv, msg); !bytes.Equal(got, want) {
			t.Fatalf("case %d: streamed signature differs from crypto/ed25519's", i)
		}
		v, _ := signing.NewVerifier(priv.Public())
		if err := verifyStream(ctx, v, got, msg); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		// A signature with a non-canonical S (S + l) must be refused, as
		// crypto/ed25519 refuses it.
		bad := bytes.Clone(got)
		bad[63] |= 0xf0
		if ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, bad) {
			t.Fatal("stdlib accepted a malformed signature")
		}
		if err := verifyStream(ctx, v, bad, msg); err == nil {
			t.Fatalf("case %d: a malformed signature verified", i)
		}
	}
}

// TestRefusedKeyTypes: RSA under 2048 bits, P-224 and unknown types are
// refused when generating, signing and verifying, with the reason.
func TestRefusedKeyTypes(t *testing.T) {
	for _, s := range []string{"rsa-1024", "rsa-1536", "ecdsa-p224", "dsa", "rsa-2047", "rsa-16384"} {
		if _, err := signing.ParseKeyType(s); !errors.Is(err, signing.ErrKeyType) {
			t.Errorf("keygen --type %s: %v", s, err)
		}
		if _, _, err := signing.GenerateKeyPair(signing.KeyType(s), signing.StaticPass([]byte("pw"))); !errors.Is(err, signing.ErrKeyType) {
			t.Errorf("generate %s: %v", s, err)
		}
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, k := range map[string]crypto.Signer{"rsa-1024": rsa1024, "ecdsa-p224": p224} {
		if _, err := signing.NewSigner(k); !errors.Is(err, signing.ErrKeyType) {
			t.Errorf("sign with %s: %v", name, err)
		}
		if _, err := signing.NewVerifier(k.Public()); !errors.Is(err, signing.ErrKeyType) {
			t.Errorf("verify with %s: %v", name, err)
		}
		pubPEM, _ := cryptoutils.MarshalPublicKeyToPEM(k.Public())
		if _, err := signing.ParsePublicKey(pubPEM); !errors.Is(err, signing.ErrKeyType) {
			t.Errorf("public key file of %s: %v", name, err)
		}
	}
}

func TestEmptyPasswordRefused(t *testing.T) {
	if _, _, err := signing.GenerateKeyPair(signing.KeyTypeDefault, signing.StaticPass(nil)); !errors.Is(err, signing.ErrEmptyPassword) {
		t.Fatalf("empty password: %v", err)
	}
}

package signing_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/signing"
)

func TestKeyPairSignVerify(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ferry")
	if _, _, err := signing.WriteKeyPair(prefix, signing.KeyTypeDefault, signing.StaticPass([]byte("pw"))); err != nil {
		t.Fatal(err)
	}
	priv, _ := os.ReadFile(prefix + ".key")
	if !bytes.HasPrefix(priv, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) {
		t.Fatalf("private key is not cosign's encrypted PEM:\n%s", priv)
	}
	s, err := signing.LoadSigner(prefix+".key", signing.StaticPass([]byte("pw")))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.LoadVerifier(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	d := []byte("bundle.json bytes")
	ctx := context.Background()
	sig, err := s.Sign(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(ctx, d, sig); err != nil {
		t.Fatalf("own signature does not verify: %v", err)
	}
	again, _ := s.Sign(ctx, d)
	if !bytes.Equal(sig, again) {
		t.Error("ECDSA signatures are not deterministic (RFC 6979): bundles would not be reproducible")
	}
	if err := v.Verify(ctx, []byte("another manifest"), sig); err == nil {
		t.Error("a signature verified over another digest")
	}
	id1, _ := signing.KeyID(s.PublicKey())
	id2, _ := signing.KeyID(v.PublicKey())
	if id1 != id2 || !strings.HasPrefix(id1, "sha256:") || len(id1) != 71 {
		t.Errorf("key ids differ or are malformed: %s %s", id1, id2)
	}
	round, err := signing.DecodeSignature(append(signing.EncodeSignature(sig), '\n'))
	if err != nil || !bytes.Equal(round, sig) {
		t.Errorf("signature encoding round trip: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "ferry")
	if _, _, err := signing.WriteKeyPair(prefix, signing.KeyTypeDefault, signing.StaticPass([]byte("right"))); err != nil {
		t.Fatal(err)
	}
	if _, err := signing.LoadSigner(prefix+".key", signing.StaticPass([]byte("wrong"))); !errors.Is(err, signing.ErrWrongPassword) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := signing.LoadSigner("kms://aws/alias/x", nil); !errors.Is(err, signing.ErrKMSUnsupported) {
		t.Errorf("kms reference: %v", err)
	}
	if _, err := signing.LoadVerifier(prefix + ".key"); err == nil || !strings.Contains(err.Error(), "not a PEM public key") {
		t.Errorf("private key as public key: %v", err)
	}
	if _, _, err := signing.WriteKeyPair(prefix, signing.KeyTypeDefault, signing.StaticPass([]byte("x"))); err == nil {
		t.Error("keygen overwrote an existing key")
	}
}

func TestCosignKey(t *testing.T) {
	keys := filepath.Join("..", "testdata", "keys")
	s, err := signing.LoadSigner(filepath.Join(keys, "cosign.key"), signing.StaticPass([]byte("ferry-test")))
	if err != nil {
		t.Fatalf("a key made by cosign generate-key-pair: %v", err)
	}
	v, err := signing.LoadVerifier(filepath.Join(keys, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := s.Sign(context.Background(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), []byte("x"), sig); err != nil {
		t.Fatal(err)
	}
}

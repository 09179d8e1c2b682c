package bundle_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

func TestSplit(t *testing.T) {
	s, v := testKey(t)
	dir := t.TempDir()
	noise := make([]byte, 3<<20+12345)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	path := filepath.Join(dir, "b.ferry")
	srcs := append(testSources(), memSource("files/noise", bundle.RoleConfig, noise))
	res, err := bundle.WriteFile(context.Background(), path, testManifest(), srcs, bundle.WithSigner(s), bundle.WithSplit(bundle.MinPartSize))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Error("the unsplit bundle was written too")
	}
	parts, _ := filepath.Glob(path + ".part[0-9][0-9][0-9]")
	if want := int((res.Size + bundle.MinPartSize - 1) / bundle.MinPartSize); len(parts) != want {
		t.Fatalf("%d parts for %d bytes, want %d", len(parts), res.Size, want)
	}
	for _, p := range parts {
		st, _ := os.Stat(p)
		if st.Size() > bundle.MinPartSize {
			t.Errorf("%s is %d bytes, over the split size", p, st.Size())
		}
		// Each part carries a detached signature over its own bytes.
		b, _ := os.ReadFile(p)
		sigB, err := os.ReadFile(p + ".sig")
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := signing.DecodeSignature(sigB)
		if err := v.Verify(context.Background(), b, sig); err != nil {
			t.Errorf("%s.sig: %v", p, err)
		}
	}
	rep, err := bundle.VerifyFile(context.Background(), bundle.PartPath(path, 1), bundle.WithVerifier(v))
	if err != nil {
		t.Fatalf("verify from part001: %v", err)
	}
	if !rep.Detached || len(rep.Manifest.Entries) != len(srcs) {
		t.Errorf("whole-stream signature checked %v, %d entries", rep.Detached, len(rep.Manifest.Entries))
	}

	// A damaged part is named by number.
	p2 := bundle.PartPath(path, 2)
	b, _ := os.ReadFile(p2)
	b[100] ^= 1
	os.WriteFile(p2, b, 0o644)
	_, err = bundle.VerifyFile(context.Background(), bundle.PartPath(path, 1), bundle.WithVerifier(v))
	var pe *bundle.PartError
	if !errors.As(err, &pe) || pe.Number != 2 {
		t.Fatalf("damaged part 2: %v, want a PartError for part 2", err)
	}
	b[100] ^= 1
	os.WriteFile(p2, b, 0o644)

	// A missing part likewise.
	os.Rename(bundle.PartPath(path, 3), filepath.Join(dir, "moved"))
	_, err = bundle.VerifyFile(context.Background(), bundle.PartPath(path, 1), bundle.WithVerifier(v))
	if !errors.As(err, &pe) || pe.Number != 3 {
		t.Fatalf("missing part 3: %v, want a PartError for part 3", err)
	}
}

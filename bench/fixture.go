package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// words make text-like filler that compresses roughly like configs,
// binaries' string tables and manifests do.
var words = []string{"kube", "system", "container", "image", "layer", "sha256", "apiVersion", "metadata",
	"namespace", "longhorn", "engine", "manager", "server", "agent", "traefik", "ingress", "0x7f", "\n", "  ", "{", "}"}

// writeContent writes n bytes to w: alternating 1 MiB runs of
// incompressible bytes (like compressed image layers) and text-like bytes.
func writeContent(w io.Writer, n int64, seed uint64) error {
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	buf := make([]byte, 1<<20)
	for i := int64(0); n > 0; i++ {
		if i%2 == 0 {
			for j := 0; j+8 <= len(buf); j += 8 {
				v := rng.Uint64()
				for k := 0; k < 8; k++ {
					buf[j+k] = byte(v >> (8 * k))
				}
			}
		} else {
			b := buf[:0]
			for len(b) < cap(buf)-16 {
				b = append(b, words[rng.IntN(len(words))]...)
				b = append(b, ' ')
			}
			buf = buf[:cap(buf)]
			copy(buf, b)
		}
		chunk := int64(len(buf))
		if chunk > n {
			chunk = n
		}
		if _, err := w.Write(buf[:chunk]); err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}

// Fixture is a generated signed bundle on disk with its key pair.
type Fixture struct {
	Dir, Bundle, Pub string
	Payload          int64
}

// MakeFixture writes a signed bundle of about size payload bytes, spread
// over files of at most 256 MiB, into dir.
func MakeFixture(ctx context.Context, dir string, size int64) (*Fixture, error) {
	if _, _, err := signing.WriteKeyPair(filepath.Join(dir, "ferry"), signing.StaticPass([]byte("bench"))); err != nil {
		return nil, err
	}
	signer, err := signing.LoadSigner(filepath.Join(dir, "ferry.key"), signing.StaticPass([]byte("bench")))
	if err != nil {
		return nil, err
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	var sources []bundle.Source
	for i := 0; size > 0; i++ {
		n := min(size, 256<<20)
		size -= n
		name := fmt.Sprintf("files/blob-%03d", i)
		p := filepath.Join(src, fmt.Sprintf("blob-%03d", i))
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		if err := writeContent(io.MultiWriter(f, h), n, uint64(i)); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		sources = append(sources, bundle.Source{
			Entry: bundle.Entry{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Role: bundle.RoleFile, HostPath: "/opt/bench/" + name},
			Open:  func() (io.ReadCloser, error) { return os.Open(p) },
		})
	}
	m := bundle.Manifest{Name: "bench", Version: "1.0.0", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"}, Created: time.Unix(0, 0).UTC()}
	out := filepath.Join(dir, "bench.ferry")
	res, err := bundle.WriteFile(ctx, out, m, sources, bundle.WithSigner(signer))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(src); err != nil {
		return nil, err
	}
	return &Fixture{Dir: dir, Bundle: out, Pub: filepath.Join(dir, "ferry.pub"), Payload: res.Manifest.PayloadSize()}, nil
}

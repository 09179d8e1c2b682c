package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
)

func TestRoundTrip(t *testing.T) {
	s, v := testKey(t)
	b := writeBundle(t, testManifest(), testSources(), s)
	got, err := readAll(b, bundle.WithVerifier(v))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	for _, src := range testSources() {
		rc, _ := src.Open()
		want, _ := io.ReadAll(rc)
		if !bytes.Equal(got[src.Entry.Path], want) {
			t.Errorf("%s: content differs after round trip", src.Entry.Path)
		}
	}
	if len(got) != len(testSources()) {
		t.Errorf("read %d entries, wrote %d", len(got), len(testSources()))
	}
	r, err := bundle.NewReader(context.Background(), bytes.NewReader(b), bundle.WithVerifier(v))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := r.Manifest()
	if m.Name != "factory-edge" || m.KeyID == "" || m.Format != bundle.FormatVersion {
		t.Errorf("manifest lost fields: %+v", m)
	}
	for i := 1; i < len(m.Entries); i++ {
		if m.Entries[i-1].Path >= m.Entries[i].Path {
			t.Errorf("entries not sorted: %s before %s", m.Entries[i-1].Path, m.Entries[i].Path)
		}
	}
}

func TestLayout(t *testing.T) {
	s, _ := testKey(t)
	entries := untar(t, writeBundle(t, testManifest(), testSources(), s))
	if entries[0].hdr.Name != bundle.ManifestName || entries[1].hdr.Name != bundle.SignatureName {
		t.Fatalf("first entries are %s, %s; want manifest then signature", entries[0].hdr.Name, entries[1].hdr.Name)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || !h.ModTime.Equal(time.Unix(0, 0)) || h.Typeflag != tar.TypeReg {
			t.Errorf("%s: header not normalised: uid %d gid %d %q %q mtime %v type %c", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime, h.Typeflag)
		}
	}
}

func TestDeterministic(t *testing.T) {
	s, _ := testKey(t)
	a := writeBundle(t, testManifest(), testSources(), s)
	// Sources given in another order must not matter.
	rev := testSources()
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b := writeBundle(t, testManifest(), rev, s)
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same inputs and key differ")
	}
	m := testManifest()
	m.Version = "1.4.1"
	if c := writeBundle(t, m, testSources(), s); bytes.Equal(a, c) {
		t.Fatal("a different manifest gave the same bytes")
	}
}

func TestWriterRejectsChangedSource(t *testing.T) {
	src := memSource("k3s/amd64/k3s", bundle.RoleK3sBinary, []byte("original"))
	changed := []byte("tampered")
	src.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(changed)), nil }
	_, err := bundle.Write(context.Background(), io.Discard, testManifest(), []bundle.Source{src})
	var de *bundle.DigestError
	if !errors.As(err, &de) {
		t.Fatalf("write with a changed source: got %v, want a DigestError", err)
	}
}

// A source marked Hashed is not hashed again, but its size is still checked;
// the stream hash (for the detached signature) is the same either way.
func TestWriterHashedSource(t *testing.T) {
	body := []byte("original")
	src := memSource("k3s/amd64/k3s", bundle.RoleK3sBinary, body)
	plain, err := bundle.Write(context.Background(), io.Discard, testManifest(), []bundle.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	src.Hashed = true
	hashed, err := bundle.Write(context.Background(), io.Discard, testManifest(), []bundle.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain.SHA256, hashed.SHA256) || plain.Size != hashed.Size {
		t.Fatalf("Hashed changed the output: %x (%d bytes) vs %x (%d bytes)", plain.SHA256, plain.Size, hashed.SHA256, hashed.Size)
	}
	src.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader([]byte("short"))), nil }
	if _, err := bundle.Write(context.Background(), io.Discard, testManifest(), []bundle.Source{src}); err == nil || !strings.Contains(err.Error(), "source has 5 bytes") {
		t.Fatalf("a Hashed source of the wrong size: got %v, want a size error", err)
	}
}

func TestTamper(t *testing.T) {
	s, v := testKey(t)
	other, otherV := newKey(t)
	good := writeBundle(t, testManifest(), testSources(), s)
	entries := func() []tarEntry { return untar(t, good) }
	clone := func(es []tarEntry) []tarEntry {
		out := make([]tarEntry, len(es))
		for i, e := range es {
			h := *e.hdr
			out[i] = tarEntry{&h, bytes.Clone(e.body)}
		}
		return out
	}
	isType := func(target any) func(error) bool {
		return func(err error) bool {
			switch target.(type) {
			case *bundle.FormatError:
				var x *bundle.FormatError
				return errors.As(err, &x)
			case *bundle.DigestError:
				var x *bundle.DigestError
				return errors.As(err, &x)
			case *bundle.StreamError:
				var x *bundle.StreamError
				return errors.As(err, &x)
			case *bundle.LimitError:
				var x *bundle.LimitError
				return errors.As(err, &x)
			}
			return false
		}
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	anyErr := func(err error) bool { return err != nil }

	cases := []struct {
		name   string
		bundle func() []byte
		opts   []bundle.ReadOption
		want   func(error) bool
		text   string
	}{
		{name: "flipped byte in an entry", bundle: func() []byte {
			es := clone(entries())
			es[5].body[10] ^= 0xff // k3s/amd64/k3s
			return retar(t, es, nil)
		}, want: isType(&bundle.DigestError{}), text: "does not match the manifest"},
		{name: "flipped last byte of the last entry", bundle: func() []byte {
			es := clone(entries())
			last := es[len(es)-1]
			if len(last.body) == 0 {
				last = es[len(es)-2]
			}
			last.body[len(last.body)-1] ^= 1
			return retar(t, es, nil)
		}, want: isType(&bundle.DigestError{})},
		{name: "entry reordered", bundle: func() []byte {
			es := clone(entries())
			es[4], es[5] = es[5], es[4]
			return retar(t, es, nil)
		}, want: isType(&bundle.FormatError{}), text: "out of order"},
		{name: "entry added", bundle: func() []byte {
			es := clone(entries())
			extra := tarEntry{&tar.Header{Name: "zz-extra", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}, []byte("bad")}
			return retar(t, append(es, extra), nil)
		}, want: isType(&bundle.FormatError{}), text: "not in the manifest"},
		{name: "entry added in the middle", bundle: func() []byte {
			es := clone(entries())
			extra := tarEntry{&tar.Header{Name: "charts/evil-1.0.0.tgz", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3}, []byte("bad")}
			es = append(es[:3], append([]tarEntry{extra}, es[3:]...)...)
			return retar(t, es, nil)
		}, want: isType(&bundle.FormatError{}), text: "not in the manifest"},
		{name: "entry removed", bundle: func() []byte {
			es := clone(entries())
			return retar(t, append(es[:3], es[4:]...), nil)
		}, want: isType(&bundle.FormatError{})},
		{name: "last entry removed", bundle: func() []byte {
			es := clone(entries())
			return retar(t, es[:len(es)-1], nil)
		}, want: isType(&bundle.FormatError{}), text: "missing"},
		{name: "entry duplicated", bundle: func() []byte {
			es := clone(entries())
			return retar(t, append(es, es[2]), nil)
		}, want: isType(&bundle.FormatError{}), text: "twice"},
		{name: "manifest edited", bundle: func() []byte {
			es := clone(entries())
			es[0].body = bytes.Replace(es[0].body, []byte(`"1.4.0"`), []byte(`"9.9.9"`), 1)
			es[0].hdr.Size = int64(len(es[0].body))
			return retar(t, es, nil)
		}, want: is(bundle.ErrSignature)},
		{name: "manifest and entry edited together", bundle: func() []byte {
			es := clone(entries())
			oldSum := sha256.Sum256(es[2].body)
			es[2].body = []byte("chart bytez")
			newSum := sha256.Sum256(es[2].body)
			edited := bytes.Replace(es[0].body, []byte(hex.EncodeToString(oldSum[:])), []byte(hex.EncodeToString(newSum[:])), 1)
			if bytes.Equal(edited, es[0].body) {
				t.Fatal("test did not edit the manifest")
			}
			es[0].body = edited
			return retar(t, es, nil)
		}, want: is(bundle.ErrSignature)},
		{name: "signature from another key", bundle: func() []byte {
			return writeBundle(t, testManifest(), testSources(), other)
		}, want: is(bundle.ErrSignature), text: "does not verify"},
		{name: "wrong trusted key", bundle: func() []byte { return good },
			opts: []bundle.ReadOption{bundle.WithVerifier(otherV)}, want: is(bundle.ErrSignature)},
		{name: "signature removed", bundle: func() []byte {
			es := clone(entries())
			return retar(t, append(es[:1], es[2:]...), nil)
		}, want: is(bundle.ErrUnsigned)},
		{name: "unsigned", bundle: func() []byte { return writeBundle(t, testManifest(), testSources(), nil) },
			want: is(bundle.ErrUnsigned), text: "accept an unsigned bundle explicitly"},
		{name: "signature garbage", bundle: func() []byte {
			es := clone(entries())
			es[1].body = []byte("not base64 !!")
			es[1].hdr.Size = int64(len(es[1].body))
			return retar(t, es, nil)
		}, want: is(bundle.ErrSignature)},
		{name: "manifest not first", bundle: func() []byte {
			es := clone(entries())
			es[0], es[1] = es[1], es[0]
			return retar(t, es, nil)
		}, want: isType(&bundle.FormatError{}), text: "not a Ferry bundle"},
		{name: "trailing data after tar end", bundle: func() []byte {
			return retar(t, clone(entries()), []byte("surprise"))
		}, want: isType(&bundle.LimitError{})},
		{name: "trailing bytes after the zstd frame", bundle: func() []byte {
			return append(bytes.Clone(good), []byte("garbage after the frame")...)
		}, want: anyErr},
		{name: "not zstd at all", bundle: func() []byte { return []byte("hello, this is a text file\n") },
			want: isType(&bundle.StreamError{})},
		{name: "empty file", bundle: func() []byte { return nil }, want: isType(&bundle.StreamError{})},
		{name: "expired", bundle: func() []byte {
			m := testManifest()
			exp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			m.Expires = &exp
			return writeBundle(t, m, testSources(), s)
		}, want: is(bundle.ErrExpired)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			if opts == nil {
				opts = []bundle.ReadOption{bundle.WithVerifier(v)}
			}
			_, err := readAll(tc.bundle(), opts...)
			if !tc.want(err) {
				t.Fatalf("got error %v (%T), not the expected kind", err, err)
			}
			if tc.text != "" && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not say %q", err, tc.text)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestUnsignedAllowedWhenAsked(t *testing.T) {
	b := writeBundle(t, testManifest(), testSources(), nil)
	got, err := readAll(b, bundle.WithInsecureSkipSignature())
	if err != nil || len(got) != len(testSources()) {
		t.Fatalf("unsigned bundle with skip: %d entries, %v", len(got), err)
	}
}

func TestTruncated(t *testing.T) {
	s, v := testKey(t)
	good := writeBundle(t, testManifest(), testSources(), s)
	for _, n := range []int{0, 1, 4, 20, 100, len(good) / 4, len(good) / 2, len(good) * 3 / 4, len(good) - 10, len(good) - 1} {
		_, err := readAll(good[:n], bundle.WithVerifier(v))
		if err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", n, len(good))
		}
	}
}

func TestFlippedCompressedBytes(t *testing.T) {
	s, v := testKey(t)
	good := writeBundle(t, testManifest(), testSources(), s)
	for off := 0; off < len(good); off += len(good)/37 + 1 {
		b := bytes.Clone(good)
		b[off] ^= 0x55
		if _, err := readAll(b, bundle.WithVerifier(v)); err == nil {
			t.Errorf("byte %d of %d flipped: no error", off, len(good))
		}
	}
}

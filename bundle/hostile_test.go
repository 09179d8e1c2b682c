package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

var update = flag.Bool("update", false, "rewrite testdata/hostile from the generator")

// hostileCase is one bundle from testdata/hostile: how it is made and the
// error that must reject it.
type hostileCase struct {
	name string
	// listed are the entries the (validly signed) manifest declares.
	listed []tarEntry
	// stream are the tar entries actually written after manifest and
	// signature; nil means the listed ones.
	stream  []tarEntry
	trailer []byte
	raw     []byte // when set, the whole file (no tar/zstd made)
	want    string // substring of the error
}

func reg(name string, body string) tarEntry {
	return tarEntry{&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, []byte(body)}
}

func special(name string, typ byte, link string) tarEntry {
	return tarEntry{&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Linkname: link, Devmajor: 1, Devminor: 3}, nil}
}

func hostileCases() []hostileCase {
	ok := reg("k3s/amd64/k3s", "stand-in")
	big := reg("k3s/amd64/k3s", strings.Repeat("x", 4096))
	window := []byte{0x28, 0xb5, 0x2f, 0xfd, // zstd magic
		0x00,             // frame header: no content size, no checksum
		0xa8,             // window descriptor: 2^(10+21) = 2 GiB
		0x01, 0x00, 0x00} // last raw block of length 0
	return []hostileCase{
		{name: "traversal-dotdot", listed: []tarEntry{ok}, stream: []tarEntry{reg("../evil", "x")}, want: "not a clean relative path"},
		{name: "traversal-nested", listed: []tarEntry{ok}, stream: []tarEntry{reg("a/../../evil", "x")}, want: "not a clean relative path"},
		{name: "traversal-dot-prefix", listed: []tarEntry{ok}, stream: []tarEntry{reg("./../evil", "x")}, want: "not a clean relative path"},
		{name: "absolute-path", listed: []tarEntry{ok}, stream: []tarEntry{reg("/etc/evil", "x")}, want: "not a clean relative path"},
		{name: "backslash", listed: []tarEntry{ok}, stream: []tarEntry{reg(`..\evil`, "x")}, want: "byte 0x5c"},
		{name: "unicode-lookalike-dots", listed: []tarEntry{ok}, stream: []tarEntry{reg("\u2024\u2024/evil", "x")}, want: "is not allowed in entry names"},
		{name: "fullwidth-dots", listed: []tarEntry{ok}, stream: []tarEntry{reg("\uff0e\uff0e/evil", "x")}, want: "is not allowed in entry names"},
		{name: "very-long-name", listed: []tarEntry{ok}, stream: []tarEntry{reg(strings.Repeat("a/", 200)+"x", "x")}, want: "name longer than"},
		{name: "symlink-inside", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeSymlink, "other")}, want: "links, devices and FIFOs are refused"},
		{name: "symlink-escaping", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeSymlink, "../../../etc/passwd")}, want: "links, devices and FIFOs are refused"},
		{name: "hardlink", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeLink, "/etc/shadow")}, want: "links, devices and FIFOs are refused"},
		{name: "char-device", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeChar, "")}, want: "links, devices and FIFOs are refused"},
		{name: "block-device", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeBlock, "")}, want: "links, devices and FIFOs are refused"},
		{name: "fifo", listed: []tarEntry{ok}, stream: []tarEntry{special("k3s/amd64/k3s", tar.TypeFifo, "")}, want: "links, devices and FIFOs are refused"},
		{name: "setuid", listed: []tarEntry{ok}, stream: []tarEntry{{&tar.Header{Name: "k3s/amd64/k3s", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 8}, []byte("stand-in")}}, want: "setuid"},
		{name: "duplicate-name", listed: []tarEntry{ok}, stream: []tarEntry{ok, ok}, want: "twice"},
		{name: "case-colliding-names", listed: []tarEntry{reg("files/README", "a"), reg("files/readme", "b")}, want: "case-insensitive"},
		{name: "manifest-lists-twice", listed: []tarEntry{ok, ok}, want: "sorted by path and unique"},
		{name: "oversize-entry", listed: []tarEntry{ok}, stream: []tarEntry{big}, want: "tar header says 4096 bytes, the manifest says 8"},
		{name: "tar-size-bomb", listed: []tarEntry{ok}, stream: []tarEntry{{&tar.Header{Name: "k3s/amd64/k3s", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}, nil}}, want: "tar header says 1099511627776 bytes"},
		{name: "trailing-garbage", listed: []tarEntry{ok}, trailer: []byte("garbage after the end"), want: "data after the end of the tar archive"},
		{name: "zero-bomb-after-end", listed: []tarEntry{ok}, trailer: make([]byte, 64<<20), want: "decompressed data beyond what the manifest declares"},
		{name: "zstd-window-2gib", raw: window, want: "window size exceeded"},
		{name: "not-a-bundle", raw: []byte("PK\x03\x04 this is a zip file"), want: "read bundle at byte"},
	}
}

// build makes the bytes of a hostile case: a manifest listing c.listed,
// signed with the test key, followed by c.stream.
func (c hostileCase) build(t testing.TB, s signing.Signer) []byte {
	if c.raw != nil {
		return c.raw
	}
	m := testManifest()
	for _, e := range c.listed {
		sum := sha256.Sum256(e.body)
		m.Entries = append(m.Entries, bundle.Entry{Path: e.hdr.Name, Size: int64(len(e.body)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleConfig})
	}
	m.Format = bundle.FormatVersion
	id, _ := signing.KeyID(s.PublicKey())
	m.KeyID = id
	mb, err := m.Marshal() // deliberately not validated: some cases break it
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(mb)
	sig, err := s.SignDigest(context.Background(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	stream := c.stream
	if stream == nil {
		stream = c.listed
	}
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	all := append([]tarEntry{reg(bundle.ManifestName, string(mb)), reg(bundle.SignatureName, string(signing.EncodeSignature(sig)))}, stream...)
	for _, e := range all {
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tw.Write(e.body)
	}
	tw.Flush()
	if c.name != "tar-size-bomb" {
		tw.Close()
	}
	plain.Write(c.trailer)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer enc.Close()
	return enc.EncodeAll(plain.Bytes(), nil)
}

// TestHostileCorpus regenerates testdata/hostile, checks the committed files
// match the generator, and extracts each into a staging directory: every
// one must be refused with its error, the staging directory removed, and
// nothing written anywhere else.
func TestHostileCorpus(t *testing.T) {
	s, v := testKey(t)
	dir := filepath.Join(repoRoot(t), "testdata", "hostile")
	cases := hostileCases()
	if len(cases) < 20 {
		t.Fatalf("corpus has only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.build(t, s)
			file := filepath.Join(dir, c.name+".ferry")
			if *update {
				os.MkdirAll(dir, 0o755)
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			committed, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./bundle -run TestHostileCorpus -update)", err)
			}
			if !bytes.Equal(committed, b) {
				t.Fatalf("%s differs from the generator: run with -update and review", file)
			}
			parent := t.TempDir()
			stage := filepath.Join(parent, "staging")
			_, err = bundle.Extract(context.Background(), bytes.NewReader(committed), stage, bundle.WithVerifier(v))
			if err == nil {
				t.Fatal("hostile bundle was accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if errors.Is(err, bundle.ErrSignature) {
				t.Errorf("rejected for its signature, not for the hostile content: %v", err)
			}
			left, _ := os.ReadDir(parent)
			if len(left) != 0 {
				t.Errorf("extract left %d entries in the parent directory (staging not removed)", len(left))
			}
		})
	}
}

package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

var update = flag.Bool("update", false, "rewrite testdata/hostile from the generator")

// hostileCase is one bundle from testdata/hostile: how it is made, the
// error that must reject it and the exit codes ferry-install gives it.
type hostileCase struct {
	name string
	// listed are the entries the (validly signed) manifest declares.
	listed []tarEntry
	// stream are the tar entries actually written after manifest and
	// signature; nil means the listed ones.
	stream []tarEntry
	// rawTar is appended to the tar stream, as is, after stream.
	rawTar  []byte
	trailer []byte
	raw     []byte // when set, the whole file (no tar/zstd made)
	// manifest adjusts the manifest before it is signed.
	manifest func(*bundle.Manifest)
	// signedOther adjusts a copy of the manifest: the signature is made
	// over that copy, not over the bundle.json written.
	signedOther func(*bundle.Manifest)
	// signer is "" (the trusted test key), "untrusted" (a key nobody
	// trusts), "none" (no signature entry) or "garbage" (not base64).
	signer string
	// sigFirst writes the signature before the manifest.
	sigFirst bool
	// cut drops this many bytes from the end of the compressed file.
	cut  int
	want string // substring of the error
	// bySignature: the case is refused for its signature, by design.
	bySignature bool
	// extractOK: the bundle itself is sound and only the installer
	// refuses it (another arch).
	extractOK bool
	// verifyExit and installExit are ferry-install's exit codes for
	// "verify" and "server --no-start" (README: 3 verification, 6
	// expired, 1 anything else).
	verifyExit, installExit int
}

func reg(name string, body string) tarEntry {
	return tarEntry{&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, []byte(body)}
}

func special(name string, typ byte, link string) tarEntry {
	return tarEntry{&tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Linkname: link, Devmajor: 1, Devminor: 3}, nil}
}

// ustarBlock is a hand-made tar header block: archive/tar refuses to write
// the headers some cases need (a PAX record holding a NUL).
func ustarBlock(name string, typ byte, size int) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	var sum int
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// paxWithNUL is a PAX header whose path record holds a NUL, followed by
// the regular entry it would rename.
func paxWithNUL() []byte {
	rec := "k3s/amd64/k3s\x00/../../evil"
	line := fmt.Sprintf(" path=%s\n", rec)
	line = fmt.Sprintf("%d%s", len(line)+2, line) // the length counts its own two digits
	out := ustarBlock("PaxHeaders/k3s", 'x', len(line))
	body := make([]byte, (len(line)+511)/512*512)
	copy(body, line)
	out = append(out, body...)
	out = append(out, ustarBlock("k3s/amd64/k3s", '0', 8)...)
	body = make([]byte, 512)
	copy(body, "stand-in")
	return append(out, body...)
}

func hostileCases() []hostileCase {
	ok := reg("k3s/amd64/k3s", "stand-in")
	sbom := reg("sbom.spdx.json", "{}")
	big := reg("k3s/amd64/k3s", strings.Repeat("x", 4096))
	window := []byte{0x28, 0xb5, 0x2f, 0xfd, // zstd magic
		0x00,             // frame header: no content size, no checksum
		0xa8,             // window descriptor: 2^(10+21) = 2 GiB
		0x01, 0x00, 0x00} // last raw block of length 0
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []hostileCase{
		{name: "traversal-dotdot", listed: []tarEntry{ok}, stream: []tarEntry{reg("../evil", "x")}, want: "not a clean relative path"},
		{name: "traversal-nested", listed: []tarEntry{ok}, stream: []tarEntry{reg("a/../../evil", "x")}, want: "not a clean relative path"},
		{name: "traversal-dot-prefix", listed: []tarEntry{ok}, stream: []tarEntry{reg("./../evil", "x")}, want: "not a clean relative path"},
		{name: "absolute-path", listed: []tarEntry{ok}, stream: []tarEntry{reg("/etc/evil", "x")}, want: "not a clean relative path"},
		{name: "backslash", listed: []tarEntry{ok}, stream: []tarEntry{reg(`..\evil`, "x")}, want: "byte 0x5c"},
		{name: "nul-in-name", listed: []tarEntry{ok}, stream: []tarEntry{}, rawTar: paxWithNUL(), want: "archive/tar: invalid tar header"},
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
		{name: "case-colliding-stream", listed: []tarEntry{reg("files/README", "a")}, stream: []tarEntry{reg("files/README", "a"), reg("files/readme", "a")}, want: `"files/readme": is not in the manifest`},
		{name: "manifest-lists-twice", listed: []tarEntry{ok, ok}, want: "sorted by path and unique"},
		{name: "oversize-entry", listed: []tarEntry{ok}, stream: []tarEntry{big}, want: "tar header says 4096 bytes, the manifest says 8"},
		{name: "digest-mismatch", listed: []tarEntry{ok}, stream: []tarEntry{reg("k3s/amd64/k3s", "stand-ix")}, want: "does not match the manifest's"},
		{name: "missing-entry", listed: []tarEntry{ok, sbom}, stream: []tarEntry{ok}, want: `"sbom.spdx.json": missing: the bundle ends before this entry`},
		{name: "not-in-manifest", listed: []tarEntry{ok}, stream: []tarEntry{ok, reg("zz-extra", "x")}, want: `"zz-extra": is not in the manifest`},
		{name: "out-of-order", listed: []tarEntry{ok, sbom}, stream: []tarEntry{sbom, ok}, want: "missing or out of order"},
		{name: "manifest-not-first", listed: []tarEntry{ok}, sigFirst: true, want: "first entry must be bundle.json"},
		{name: "tar-size-bomb", listed: []tarEntry{ok}, stream: []tarEntry{{&tar.Header{Name: "k3s/amd64/k3s", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40}, nil}}, want: "tar header says 1099511627776 bytes"},
		{name: "trailing-garbage", listed: []tarEntry{ok}, trailer: []byte("garbage after the end"), want: "data after the end of the tar archive"},
		{name: "zero-bomb-after-end", listed: []tarEntry{ok}, trailer: make([]byte, 64<<20), want: "decompressed data beyond what the manifest declares"},
		{name: "zstd-window-2gib", raw: window, want: "window size exceeded"},
		{name: "truncated-zstd-frame", listed: []tarEntry{ok, reg("sbom.spdx.json", strings.Repeat("{}", 3000))}, cut: 40, want: "unexpected EOF"},
		{name: "not-a-bundle", raw: []byte("PK\x03\x04 this is a zip file"), want: "read bundle at byte"},
		{name: "unsigned", listed: []tarEntry{ok}, signer: "none", want: "bundle is not signed", bySignature: true},
		{name: "signature-garbage", listed: []tarEntry{ok}, signer: "garbage", want: "does not verify with the trusted key", bySignature: true},
		{name: "signature-over-other-manifest", listed: []tarEntry{ok}, signedOther: func(m *bundle.Manifest) { m.Version = "9.9.9" }, want: "does not verify with the trusted key", bySignature: true},
		{name: "signer-keyid-not-the-verifier", listed: []tarEntry{ok}, manifest: func(m *bundle.Manifest) { m.KeyID = "sha256:" + strings.Repeat("ab", 32) }, want: "the manifest names signer"},
		{name: "untrusted-signer", listed: []tarEntry{ok}, signer: "untrusted", want: "does not verify with the trusted key", bySignature: true},
		{name: "manifest-expired", listed: []tarEntry{ok}, manifest: func(m *bundle.Manifest) { m.Expires = &past }, want: "bundle has expired", verifyExit: 6, installExit: 6},
		{name: "files-on-generated-env-file", listed: []tarEntry{reg("files/env", "K3S_TOKEN=attacker\n")}, manifest: func(m *bundle.Manifest) {
			m.Entries[0].Role, m.Entries[0].HostPath, m.Entries[0].Mode = bundle.RoleFile, "/etc/systemd/system/k3s.service.env", 0o600
		}, want: "is a file Ferry generates on every host", extractOK: true, verifyExit: 0, installExit: 1},
		{name: "files-inside-var-lib-ferry", listed: []tarEntry{reg("files/state", "{}")}, manifest: func(m *bundle.Manifest) {
			m.Entries[0].Role, m.Entries[0].HostPath, m.Entries[0].Mode = bundle.RoleFile, "/var/lib/ferry/state.json", 0o644
		}, want: "where Ferry keeps its own state", extractOK: true, verifyExit: 0, installExit: 1},
		{name: "other-arch", listed: []tarEntry{}, manifest: func(m *bundle.Manifest) { m.Arches = []string{"s390x"} }, want: "not this host's", extractOK: true, verifyExit: 0, installExit: 1},
	}
	for i := range cases {
		if cases[i].verifyExit == 0 && !cases[i].extractOK {
			cases[i].verifyExit, cases[i].installExit = 3, 3
		}
	}
	return cases
}

// build makes the bytes of a hostile case: a manifest listing c.listed,
// signed with the test key (or as c.signer says), followed by c.stream.
func (c hostileCase) build(t testing.TB, s signing.Signer) []byte {
	if c.raw != nil {
		return c.raw
	}
	if c.signer == "untrusted" {
		s = untrustedKey(t)
	}
	m := testManifest()
	for _, e := range c.listed {
		sum := sha256.Sum256(e.body)
		m.Entries = append(m.Entries, bundle.Entry{Path: e.hdr.Name, Size: int64(len(e.body)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleConfig})
	}
	m.Format = bundle.FormatVersion
	id, _ := signing.KeyID(s.PublicKey())
	m.KeyID = id
	if c.manifest != nil {
		c.manifest(&m)
	}
	mb, err := m.Marshal() // deliberately not validated: some cases break it
	if err != nil {
		t.Fatal(err)
	}
	signed := mb
	if c.signedOther != nil {
		other := m
		c.signedOther(&other)
		if signed, err = other.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := s.Sign(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	stream := c.stream
	if stream == nil {
		stream = c.listed
	}
	preamble := []tarEntry{reg(bundle.ManifestName, string(mb)), reg(bundle.SignatureName, string(signing.EncodeSignature(sig)))}
	switch c.signer {
	case "none":
		preamble = preamble[:1]
	case "garbage":
		preamble[1] = reg(bundle.SignatureName, "this is not a signature!")
	}
	if c.sigFirst {
		preamble[0], preamble[1] = preamble[1], preamble[0]
	}
	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	for _, e := range append(preamble, stream...) {
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tw.Write(e.body)
	}
	tw.Flush()
	plain.Write(c.rawTar)
	if c.name != "tar-size-bomb" {
		tw.Close()
	}
	plain.Write(c.trailer)
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	defer enc.Close()
	out := enc.EncodeAll(plain.Bytes(), nil)
	return out[:len(out)-c.cut]
}

// untrustedKey is a key pair kept beside the corpus that no test trusts.
func untrustedKey(t testing.TB) signing.Signer {
	t.Helper()
	s, err := signing.LoadSigner(filepath.Join(repoRoot(t), "testdata", "hostile", "untrusted.key"), signing.StaticPass([]byte("ferry-test")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHostileCorpus regenerates testdata/hostile, checks the committed files
// match the generator, and extracts each into a staging directory: every
// one must be refused with its error, the staging directory removed, and
// nothing written anywhere else.
func TestHostileCorpus(t *testing.T) {
	s, v := testKey(t)
	dir := filepath.Join(repoRoot(t), "testdata", "hostile")
	cases := hostileCases()
	if len(cases) < 30 {
		t.Fatalf("corpus has only %d cases, the issue asks for 30", len(cases))
	}
	readme := filepath.Join(dir, "README.md")
	if *update {
		if err := os.WriteFile(readme, []byte(hostileReadme(cases)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(readme); err != nil || string(got) != hostileReadme(cases) {
		t.Errorf("%s does not list the cases (%v): run with -update", readme, err)
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
			if c.extractOK {
				if err != nil {
					t.Fatalf("sound bundle refused by the reader: %v", err)
				}
				return // the installer refuses it: TestHostileCorpusCLI
			}
			if err == nil {
				t.Fatal("hostile bundle was accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if sig := errors.Is(err, bundle.ErrSignature) || errors.Is(err, bundle.ErrUnsigned); sig != c.bySignature {
				t.Errorf("refused for its signature: %v, want %v (%v)", sig, c.bySignature, err)
			}
			left, _ := os.ReadDir(parent)
			if len(left) != 0 {
				t.Errorf("extract left %d entries in the parent directory (staging not removed)", len(left))
			}
		})
	}
}

// TestHostileCorpusCLI runs the real ferry-install on every hostile bundle:
// "verify" and "server --no-start --root" must exit with the documented
// code, say the case's error on stderr, and leave the root exactly as it
// was (staging removed, nothing written anywhere).
func TestHostileCorpusCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-install and runs it per case; skipped under -short")
	}
	root := repoRoot(t)
	bin := binary(t, "ferry-install")
	pub := filepath.Join(root, "testdata", "keys", "cosign.pub")
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(root, "testdata", "hostile", c.name+".ferry")
			code, stderr := runExit(t, bin, "verify", "--key", pub, file)
			if code != c.verifyExit {
				t.Errorf("verify exited %d, want %d: %s", code, c.verifyExit, stderr)
			}
			if c.verifyExit != 0 && !strings.Contains(stderr, c.want) {
				t.Errorf("verify said %q, want %q", stderr, c.want)
			}
			target := t.TempDir()
			os.MkdirAll(filepath.Join(target, "etc"), 0o755)
			os.WriteFile(filepath.Join(target, "etc", "hostname"), []byte("edge-1\n"), 0o644)
			before := tree(t, target)
			code, stderr = runExit(t, bin, "server", "--root", target, "--no-start", "--skip-preflight",
				"--token", "t", "--bundle", file, "--key", pub)
			if code != c.installExit {
				t.Errorf("server exited %d, want %d: %s", code, c.installExit, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("server said %q, want %q", stderr, c.want)
			}
			if after := tree(t, target); after != before {
				t.Errorf("the root changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// runExit runs bin and returns its exit code and stderr.
func runExit(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("run %s: %v", bin, err)
	return -1, ""
}

// tree lists every path below dir with its type, mode and size.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v %d\n", rel, fi.Mode(), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// hostileReadme is testdata/hostile/README.md: every case, the error that
// refuses it and ferry-install's exit codes.
func hostileReadme(cases []hostileCase) string {
	var b strings.Builder
	b.WriteString(`# Hostile bundles

Generated by ` + "`bundle/hostile_test.go`" + ` (` + "`go test ./bundle -run TestHostileCorpus -update`" + `);
the test checks that these files (and this table) still match the generator, then extracts
each into a staging directory and expects the error below, the staging directory removed and
nothing written elsewhere. ` + "`TestHostileCorpusCLI`" + ` runs the real ` + "`ferry-install verify`" + ` and
` + "`ferry-install server --root DIR --no-start`" + ` on each and checks the exit code (3 verification,
6 expired, 1 other) and that DIR is unchanged. Every manifest is validly signed with
` + "`testdata/keys/cosign.key`" + ` unless the case is about the signature (` + "`untrusted.key`" + ` here is a
key nobody trusts). Never install any of them.

| case | refused with (substring of the error) | verify | server |
|------|----------------------------------------|--------|--------|
`)
	for _, c := range cases {
		fmt.Fprintf(&b, "| %s | %s | %d | %d |\n", c.name, strings.ReplaceAll(c.want, "|", "\\|"), c.verifyExit, c.installExit)
	}
	fmt.Fprintf(&b, "\n%d cases.\n", len(cases))
	return b.String()
}

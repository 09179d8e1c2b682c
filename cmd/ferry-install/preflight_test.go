package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/cmd/internal/bundlecmd"
	"github.com/ferry-k3s/ferry/installer/preflight"
	"github.com/ferry-k3s/ferry/signing"
)

// preflightTree copies the healthy host tree of package preflight into a
// temporary root and writes the files in change over it.
func preflightTree(t *testing.T, change map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS(filepath.Join("..", "..", "installer", "preflight", "testdata", "healthy"))); err != nil {
		t.Fatal(err)
	}
	for p, content := range change {
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// longhornBundle writes a small bundle carrying a Longhorn chart, signed
// with the committed cosign test key, and returns its path and the public
// key's path.
func longhornBundle(t *testing.T) (path, pub string) {
	t.Helper()
	keys := filepath.Join("..", "..", "testdata", "keys")
	s, err := signing.LoadSigner(filepath.Join(keys, "cosign.key"), signing.StaticPass([]byte("ferry-test")))
	if err != nil {
		t.Fatal(err)
	}
	chart := []byte("chart bytes")
	sum := sha256.Sum256(chart)
	src := bundle.Source{
		Entry: bundle.Entry{Path: "charts/longhorn-1.7.2.tgz", Size: int64(len(chart)), SHA256: hex.EncodeToString(sum[:]), Role: bundle.RoleChart},
		Open:  func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(chart)), nil },
	}
	m := bundle.Manifest{
		Name: "factory-edge", Version: "1.4.0", K3sVersion: "v1.31.4+k3s1", Arches: []string{"amd64"},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Charts: []bundle.Chart{{Name: "longhorn", Version: "1.7.2", Namespace: "longhorn-system", Path: src.Entry.Path,
			Digest: "sha256:" + src.Entry.SHA256}},
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(context.Background(), &buf, m, []bundle.Source{src}, bundle.WithSigner(s)); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "factory-edge.ferry")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, filepath.Join(keys, "cosign.pub")
}

func runInstall(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestPreflightCmdJSONWithBundle(t *testing.T) {
	b, pub := longhornBundle(t)
	root := preflightTree(t, nil)
	out, err := runInstall(t, "preflight", "server", "--root", root, "--bundle", b, "--key", pub, "--cluster-init", "--json")
	if err != nil {
		t.Fatalf("preflight: %v\n%s", err, out)
	}
	var r preflight.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
	}
	want := map[string]string{
		// --root is an alternate root: the running host's ports are not checked.
		"ports": "not checked",
		// The manifest was read: Longhorn's needs and the bundle size were checked.
		"longhorn": "present for Longhorn",
		"disk":     "the bundle needs",
	}
	for name, detail := range want {
		if c, ok := r.Check(name); !ok || !strings.Contains(c.Detail, detail) {
			t.Errorf("%s: %+v, want detail containing %q", name, c, detail)
		}
	}
}

func TestPreflightCmdFails(t *testing.T) {
	root := preflightTree(t, map[string]string{"etc/hostname": "localhost\n"})
	out, err := runInstall(t, "preflight", "agent", "--root", root)
	if !errors.Is(err, preflight.ErrPreflight) || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("err = %v, want ErrPreflight naming hostname", err)
	}
	if !strings.Contains(out, "FAIL    hostname") || !strings.Contains(out, "hostnamectl set-hostname") {
		t.Errorf("table lacks the FAIL row and its fix:\n%s", out)
	}
}

func TestPreflightCmdBadInput(t *testing.T) {
	b, _ := longhornBundle(t)
	otherDir := t.TempDir()
	if _, _, err := signing.WriteKeyPair(filepath.Join(otherDir, "other"), signing.KeyTypeDefault, signing.StaticPass([]byte("pw"))); err != nil {
		t.Fatal(err)
	}
	root := preflightTree(t, nil)
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"no role", []string{"preflight"}, "name one role to check: ferry-install preflight server|agent", exitFailure},
		{"unknown role", []string{"preflight", "master"}, `unknown role "master": use server or agent`, exitFailure},
		{"agent with etcd", []string{"preflight", "agent", "--cluster-init"}, "--cluster-init and --join are for servers", exitFailure},
		{"bundle without key", []string{"preflight", "server", "--bundle", b}, "no trusted key", exitFailure},
		{"wrong key", []string{"preflight", "server", "--root", root, "--bundle", b, "--key", filepath.Join(otherDir, "other.pub")}, "factory-edge.ferry", bundlecmd.ExitVerification},
		{"missing bundle", []string{"preflight", "server", "--bundle", filepath.Join(otherDir, "nope.ferry"), "--insecure-skip-signature"}, "nope.ferry", exitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runInstall(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if out != "" {
				t.Errorf("printed a report for bad input:\n%s", out)
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d (%v)", got, tt.code, err)
			}
		})
	}
}

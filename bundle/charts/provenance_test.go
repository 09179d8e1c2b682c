package charts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"helm.sh/helm/v3/pkg/provenance"
)

// testKeyring makes an offline OpenPGP key (EdDSA, fast) and writes a public
// keyring for verification and a secret keyring for signing.
func testKeyring(t *testing.T) (public, secret string) {
	t.Helper()
	e, err := openpgp.NewEntity("ferry-test", "charts", "test@ferry.invalid",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	public, secret = filepath.Join(dir, "pubring.gpg"), filepath.Join(dir, "secring.gpg")
	for path, write := range map[string]func(f *os.File) error{
		public: func(f *os.File) error { return e.Serialize(f) },
		secret: func(f *os.File) error { return e.SerializePrivate(f, nil) },
	} {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return public, secret
}

// signChart writes chartPath.prov signed with the secret keyring.
func signChart(t *testing.T, secret, chartPath string) {
	t.Helper()
	s, err := provenance.NewFromKeyring(secret, "ferry-test")
	if err != nil {
		t.Fatal(err)
	}
	prov, err := s.ClearSign(chartPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chartPath+".prov", []byte(prov), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPullProvenance(t *testing.T) {
	public, secret := testKeyring(t)
	otherPublic, _ := testKeyring(t)

	dir := t.TempDir()
	signed := packageFixture(t, "longhorn-shaped", dir)
	signChart(t, secret, signed)
	packageFixture(t, "nfs-shaped", dir) // unsigned
	srv := serveDir(t, dir)
	writeIndex(t, dir, srv.URL)

	tests := []struct {
		name    string
		src     Source
		wantErr string // "" means success
	}{
		{"signed chart verifies", Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "1.7.2", Keyring: public}, ""},
		{"signed by another key", Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "1.7.2", Keyring: otherPublic}, "verify provenance of chart longhorn-shaped 1.7.2"},
		{"missing .prov", Source{Name: "nfs-shaped", Repo: srv.URL, Version: "4.0.18", Keyring: public}, "provenance file " + srv.URL + "/nfs-shaped-4.0.18.tgz.prov is missing"},
		{"unreadable keyring", Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "1.7.2", Keyring: filepath.Join(dir, "absent.gpg")}, "load keyring"},
		{"local archive with .prov", Source{Repo: signed, Keyring: public}, ""},
		{"local directory is never signed", Source{Repo: fixture(t, "nfs-shaped"), Keyring: public}, "has no provenance file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Pull(context.Background(), tt.src, WithCacheDir(t.TempDir()), WithRetries(0))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v; want ErrProvenance containing %q", err, tt.wantErr)
			}
		})
	}

	t.Run("tampered archive", func(t *testing.T) {
		// Same name and version, different bytes: the signed sum no longer matches.
		tdir := t.TempDir()
		tgz := packageFixture(t, "longhorn-shaped", tdir)
		signChart(t, secret, tgz)
		data, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatal(err)
		}
		altered, err := normalizeArchive(data)
		if err != nil {
			t.Fatal(err)
		}
		if digest(altered) == digest(data) {
			t.Fatal("test setup: rewritten archive has the same bytes")
		}
		if err := os.WriteFile(tgz, altered, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Pull(context.Background(), Source{Repo: tgz, Keyring: public}, WithCacheDir(t.TempDir()))
		if !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), "sha256 sum does not match") {
			t.Errorf("err = %v; want ErrProvenance for a changed archive", err)
		}
	})

	t.Run("cache without .prov is refetched with it", func(t *testing.T) {
		cacheDir := t.TempDir()
		src := Source{Name: "longhorn-shaped", Repo: srv.URL, Version: "1.7.2"}
		if _, err := Pull(context.Background(), src, WithCacheDir(cacheDir)); err != nil {
			t.Fatal(err)
		}
		src.Keyring = public
		a, err := Pull(context.Background(), src, WithCacheDir(cacheDir))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(a.Path + ".prov"); err != nil {
			t.Errorf("provenance not cached: %v", err)
		}
	})
}

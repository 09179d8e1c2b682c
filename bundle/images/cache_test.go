package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStorePut(t *testing.T) {
	body := []byte("layer bytes")
	good := sha256Digest(body)
	tests := []struct {
		name    string
		digest  string
		size    int64
		errHas  string
		wantHas bool
	}{
		{name: "verified", digest: good, size: int64(len(body)), wantHas: true},
		{name: "size unknown", digest: good, size: -1, wantHas: true},
		{name: "wrong digest", digest: sha256Digest([]byte("other")), size: int64(len(body)), errHas: "altered"},
		{name: "longer than declared", digest: good, size: 3, errHas: "more than the 3 bytes the manifest declares"},
		{name: "shorter than declared", digest: good, size: 1000, errHas: "the manifest says 1000"},
		{name: "path traversal", digest: "sha256:../../../etc/passwd", size: -1, errHas: "not a sha256 digest"},
		{name: "other algorithm", digest: "sha512:" + strings.Repeat("a", 128), size: -1, errHas: "not a sha256 digest"},
		{name: "upper case", digest: strings.ToUpper(good), size: -1, errHas: "not a sha256 digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			st, err := openStore(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.size == int64(len(body)) {
				err = st.putBytes(tt.digest, body)
			} else {
				err = st.put(tt.digest, tt.size, strings.NewReader(string(body)))
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tt.errHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got := st.has(tt.digest, int64(len(body))); got != tt.wantHas {
				t.Errorf("has = %v, want %v", got, tt.wantHas)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			if tt.wantHas {
				b, err := st.readAll(tt.digest)
				if err != nil || string(b) != string(body) {
					t.Errorf("readAll = %q, %v", b, err)
				}
			}
		})
	}
}

func TestStoreReadAllNoticesDamage(t *testing.T) {
	st, err := openStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2}`)
	d := sha256Digest(body)
	if err := st.putBytes(d, body); err != nil {
		t.Fatal(err)
	}
	p, _ := st.path(d)
	if err := os.WriteFile(p, []byte(`{"schemaVersion":3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.readAll(d); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("readAll of a damaged blob: %v", err)
	}
}

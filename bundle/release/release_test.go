package release_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle/fetch"
	"github.com/ferry-k3s/ferry/bundle/release"
	"github.com/ferry-k3s/ferry/bundle/release/releasetest"
)

const version = "v1.31.4+k3s1"

func newClient(t *testing.T, dir string) *fetch.Client {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	c, err := fetch.New(fetch.WithCacheDir(dir), fetch.WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAssetNames(t *testing.T) {
	tests := []struct {
		arch    string
		want    release.Names
		wantErr string
	}{
		{"amd64", release.Names{Binary: "k3s", Airgap: "k3s-airgap-images-amd64.tar.zst", Checksums: "sha256sum-amd64.txt"}, ""},
		{"arm64", release.Names{Binary: "k3s-arm64", Airgap: "k3s-airgap-images-arm64.tar.zst", Checksums: "sha256sum-arm64.txt"}, ""},
		{"arm", release.Names{Binary: "k3s-armhf", Airgap: "k3s-airgap-images-arm.tar.zst", Checksums: "sha256sum-arm.txt"}, ""},
		{"armhf", release.Names{}, `k3s arch "armhf" is not published by k3s: use one of amd64, arm64, arm`},
		{"", release.Names{}, "not published"},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			got, err := release.AssetNames(tt.arch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("AssetNames(%q) = %+v, %v; want %+v", tt.arch, got, err, tt.want)
			}
		})
	}
}

func TestAssetURL(t *testing.T) {
	tests := []struct{ base, want string }{
		{release.DefaultBaseURL, "https://github.com/k3s-io/k3s/releases/download/v1.31.4%2Bk3s1/k3s-arm64"},
		{"http://127.0.0.1:8080/mirror/", "http://127.0.0.1:8080/mirror/v1.31.4%2Bk3s1/k3s-arm64"},
		{"file:///srv/k3s", "file:///srv/k3s/v1.31.4+k3s1/k3s-arm64"},
		{"/srv/k3s", "/srv/k3s/v1.31.4+k3s1/k3s-arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.base, func(t *testing.T) {
			if got := release.AssetURL(tt.base, version, "k3s-arm64"); got != tt.want {
				t.Fatalf("AssetURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		v  string
		ok bool
	}{
		{"v1.31.4+k3s1", true},
		{"v1.32.0-rc1+k3s1", true},
		{"stable", false},
		{"latest", false},
		{"1.31.4+k3s1", false},
		{"v1.31.4", false},
		{"v1.31.4+k3s1/../x", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			err := release.CheckVersion(tt.v)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckVersion(%q) = %v, want ok=%v", tt.v, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "pin an exact release") {
				t.Fatalf("error %v does not say how to fix it", err)
			}
		})
	}
}

func TestParseChecksums(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("B", 64)
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{"text mode", a + "  k3s\n" + strings.ToLower(b) + "  k3s-airgap-images-amd64.tar.zst\n", map[string]string{"k3s": a, "k3s-airgap-images-amd64.tar.zst": strings.ToLower(b)}, ""},
		{"binary mode, upper case, CRLF, blank lines", b + " *k3s-arm64\r\n\n", map[string]string{"k3s-arm64": strings.ToLower(b)}, ""},
		{"empty", "", map[string]string{}, ""},
		{"short digest", "abc  k3s\n", nil, "line 1"},
		{"no name", a + "\n", nil, "line 1"},
		{"conflicting duplicate", a + "  k3s\n" + strings.ToLower(b) + "  k3s\n", nil, "k3s listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := release.ParseChecksums(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestFetchOverHTTP(t *testing.T) {
	for _, arch := range release.Arches {
		t.Run(arch, func(t *testing.T) {
			srv := releasetest.NewServer(t, version, release.Arches, releasetest.Options{})
			c := newClient(t, "")
			ctx := context.Background()
			a, err := release.Fetch(ctx, c, release.Source{BaseURL: srv.URL, Version: version, Arch: arch})
			if err != nil {
				t.Fatal(err)
			}
			names, _ := release.AssetNames(arch)
			if a.Binary.SHA256 != srv.Tree.Sums[names.Binary] || a.Airgap.SHA256 != srv.Tree.Sums[names.Airgap] {
				t.Fatalf("assets %+v do not match the release %v", a, srv.Tree.Sums)
			}
			if !strings.HasSuffix(a.BinaryURL, "/v1.31.4%2Bk3s1/"+names.Binary) || !strings.HasSuffix(a.AirgapURL, "/"+names.Airgap) {
				t.Fatalf("URLs %s, %s", a.BinaryURL, a.AirgapURL)
			}
			wantPaths := []string{"/" + version + "/" + names.Checksums, "/" + version + "/" + names.Binary, "/" + version + "/" + names.Airgap}
			if got := srv.Paths(); !slices.Equal(got, wantPaths) {
				t.Fatalf("requested %v, want %v", got, wantPaths)
			}
			// A rebuild with the same cache asks nothing: every URL is immutable.
			again, err := release.Fetch(ctx, newClient(t, c.CacheDir()), release.Source{BaseURL: srv.URL, Version: version, Arch: arch})
			if err != nil {
				t.Fatal(err)
			}
			if srv.Requests() != 3 || !again.Binary.FromCache || !again.Airgap.FromCache {
				t.Fatalf("rebuild made %d requests in all, want 3", srv.Requests())
			}
		})
	}
}

func TestFetchFromDisk(t *testing.T) {
	tree, err := releasetest.Write(t.TempDir(), version, []string{"arm64"}, releasetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"file://" + tree.Dir, tree.Dir} {
		t.Run(base, func(t *testing.T) {
			c := newClient(t, "")
			a, err := release.Fetch(context.Background(), c, release.Source{BaseURL: base, Version: version, Arch: "arm64"})
			if err != nil {
				t.Fatal(err)
			}
			if a.Binary.SHA256 != tree.Sums["k3s-arm64"] || a.Airgap.SHA256 != tree.Sums["k3s-airgap-images-arm64.tar.zst"] {
				t.Fatalf("assets %+v do not match %v", a, tree.Sums)
			}
			if st := c.Stats(); st.Requests != 0 {
				t.Fatalf("a disk source made %d HTTP requests", st.Requests)
			}
		})
	}
}

func TestFetchBadRelease(t *testing.T) {
	tests := []struct {
		name    string
		opts    releasetest.Options
		src     release.Source
		wantErr []string
		is      error
	}{
		{
			name:    "missing checksum line",
			opts:    releasetest.Options{OmitChecksum: "k3s-airgap-images-arm64.tar.zst"},
			src:     release.Source{Version: version, Arch: "arm64"},
			wantErr: []string{"k3s v1.31.4+k3s1 arm64", "sha256sum-arm64.txt has no line for k3s-airgap-images-arm64.tar.zst"},
		},
		{
			name:    "checksum mismatch",
			opts:    releasetest.Options{CorruptChecksum: "k3s-armhf"},
			src:     release.Source{Version: version, Arch: "arm"},
			wantErr: []string{"k3s v1.31.4+k3s1 arm", "asset k3s-armhf", "does not match the expected sha256", "the download is corrupt or the pinned digest is wrong"},
		},
		{
			name:    "wrong pinned digest",
			src:     release.Source{Version: version, Arch: "amd64", Pinned: map[string]string{"k3s": strings.Repeat("1", 64), "k3s-airgap-images-amd64.tar.zst": strings.Repeat("2", 64)}},
			wantErr: []string{"k3s v1.31.4+k3s1 amd64", "asset k3s:", "does not match the expected sha256 " + strings.Repeat("1", 64)},
		},
		{
			name:    "pin disagrees with the checksum list",
			src:     release.Source{Version: version, Arch: "amd64", Pinned: map[string]string{"k3s": strings.Repeat("1", 64)}},
			wantErr: []string{"asset k3s is pinned to sha256 1111", "update the lock file"},
		},
		{
			name:    "unknown version",
			src:     release.Source{Version: "v1.99.0+k3s1", Arch: "amd64"},
			wantErr: []string{"k3s v1.99.0+k3s1 amd64", "HTTP 404", "not found: check the version and source URL"},
			is:      fetch.ErrNotFound,
		},
		{
			name:    "unknown arch",
			src:     release.Source{Version: version, Arch: "s390x"},
			wantErr: []string{`k3s arch "s390x"`},
		},
		{
			name:    "channel instead of version",
			src:     release.Source{Version: "stable", Arch: "amd64"},
			wantErr: []string{"pin an exact release"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := releasetest.NewServer(t, version, release.Arches, tt.opts)
			c := newClient(t, "")
			tt.src.BaseURL = srv.URL
			_, err := release.Fetch(context.Background(), c, tt.src)
			if err == nil {
				t.Fatal("Fetch succeeded")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v is not %v", err, tt.is)
			}
		})
	}
}

func TestPinnedFetchMakesNoRequest(t *testing.T) {
	srv := releasetest.NewServer(t, version, []string{"arm64"}, releasetest.Options{})
	cache := t.TempDir()
	ctx := context.Background()
	first, err := release.Fetch(ctx, newClient(t, cache), release.Source{BaseURL: srv.URL, Version: version, Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	pins := first.Pins()
	before := srv.Requests()
	// A locked rebuild with a cache emptied of the URL index still makes no
	// request: the pinned digests find the blobs.
	c := newClient(t, cache)
	a, err := release.Fetch(ctx, c, release.Source{BaseURL: srv.URL + "/elsewhere", Version: version, Arch: "arm64", Pinned: pins})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Requests() != before || c.Stats().Requests != 0 {
		t.Fatalf("locked rebuild made %d requests", srv.Requests()-before)
	}
	if a.Binary.SHA256 != first.Binary.SHA256 || !a.Binary.FromCache || !a.Airgap.FromCache {
		t.Fatalf("locked rebuild got %+v, %+v; want both from cache", a.Binary, a.Airgap)
	}

	// With an empty cache, pinned assets are downloaded but the checksum
	// list is not.
	srv2 := releasetest.NewServer(t, version, []string{"arm64"}, releasetest.Options{})
	if _, err := release.Fetch(ctx, newClient(t, ""), release.Source{BaseURL: srv2.URL, Version: version, Arch: "arm64", Pinned: pins}); err != nil {
		t.Fatal(err)
	}
	for _, p := range srv2.Paths() {
		if strings.Contains(p, "sha256sum") {
			t.Fatalf("pinned fetch asked for the checksum list: %v", srv2.Paths())
		}
	}
	if srv2.Requests() != 2 {
		t.Fatalf("pinned fetch into an empty cache made %d requests, want 2", srv2.Requests())
	}
}

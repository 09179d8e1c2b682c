package images

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestResolve(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	appIdx := digestOf(t, f.idx["app:1"])
	tests := []struct {
		name      string
		ref, arch string
		want      string // key into f.imgs
		wantIndex string // key into f.idx, "" for none
		wantRef   string
		wantErr   error
		errHas    []string
	}{
		{name: "index amd64", ref: "app:1", arch: "amd64", want: "app:1 linux/amd64", wantIndex: "app:1"},
		{name: "index arm64", ref: "app:1", arch: "arm64", want: "app:1 linux/arm64", wantIndex: "app:1"},
		{name: "index arm is v7", ref: "tool:2", arch: "arm", want: "tool:2 linux/arm/v7", wantIndex: "tool:2"},
		{name: "single platform", ref: "single:1", arch: "amd64", want: "single:1 linux/amd64"},
		{name: "index by digest", ref: "app@" + appIdx, arch: "arm64", want: "app:1 linux/arm64", wantIndex: "app:1"},
		{name: "tag and digest", ref: "app:1@" + appIdx, arch: "amd64", want: "app:1 linux/amd64", wantIndex: "app:1",
			wantRef: f.reg.ref("app:1@" + appIdx)},
		{name: "single platform wrong arch", ref: "single:1", arch: "arm64", wantErr: ErrPlatform,
			errHas: []string{f.reg.ref("single:1"), "linux/amd64", "arm64"}},
		{name: "index lacks arch", ref: "app:1", arch: "arm", wantErr: ErrPlatform,
			errHas: []string{f.reg.ref("app:1"), "linux/arm/v7", "linux/amd64, linux/arm64"}},
		{name: "unknown tag", ref: "app:9.99", arch: "amd64", wantErr: ErrNotFound,
			errHas: []string{"image " + f.reg.ref("app:9.99") + ": tag not found in registry: fix images.extra or the chart values"}},
		{name: "unknown repository", ref: "nope:1", arch: "amd64", wantErr: ErrNotFound},
		{name: "unknown digest", ref: "app@sha256:" + strings.Repeat("ab", 32), arch: "amd64", wantErr: ErrNotFound,
			errHas: []string{"digest not found"}},
		{name: "unsupported arch", ref: "app:1", arch: "s390x", errHas: []string{`"s390x"`, "amd64, arm64 or arm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(ctx, []string{f.reg.ref(tt.ref)}, tt.arch, fastOpts()...)
			if tt.wantErr != nil || tt.errHas != nil {
				if err == nil {
					t.Fatalf("Resolve = %+v, want an error", got)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %q is not %v", err, tt.wantErr)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("got %d results, want 1", len(got))
			}
			r := got[0]
			if want := digestOf(t, f.imgs[tt.want]); r.Digest != want {
				t.Errorf("Digest = %s, want %s (%s)", r.Digest, want, tt.want)
			}
			wantIdx := ""
			if tt.wantIndex != "" {
				wantIdx = digestOf(t, f.idx[tt.wantIndex])
			}
			if r.IndexDigest != wantIdx {
				t.Errorf("IndexDigest = %q, want %q", r.IndexDigest, wantIdx)
			}
			wantRef := tt.wantRef
			if wantRef == "" {
				wantRef = f.reg.ref(tt.ref)
			}
			if r.Ref != wantRef || r.Arch != tt.arch {
				t.Errorf("Ref, Arch = %q, %q; want %q, %q", r.Ref, r.Arch, wantRef, tt.arch)
			}
		})
	}
}

func TestResolveKeepsOrderAndJoinsErrors(t *testing.T) {
	f := newFixture(t)
	refs := []string{f.reg.ref("single:1"), f.reg.ref("app:1"), f.reg.ref("tool:2")}
	got, err := Resolve(context.Background(), refs, "amd64", fastOpts(WithJobs(3))...)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"single:1 linux/amd64", "app:1 linux/amd64", "tool:2 linux/amd64"} {
		if got[i].Ref != refs[i] || got[i].Digest != digestOf(t, f.imgs[want]) {
			t.Errorf("result %d = %+v, want %s", i, got[i], want)
		}
	}
	_, err = Resolve(context.Background(), []string{f.reg.ref("a:404"), f.reg.ref("app:1"), f.reg.ref("b:404")}, "amd64", fastOpts()...)
	if err == nil || !strings.Contains(err.Error(), "a:404") || !strings.Contains(err.Error(), "b:404") {
		t.Fatalf("error %v should name both missing images", err)
	}
}

func TestNormalisedRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.27", "docker.io/library/nginx:1.27"},
		{"index.docker.io/library/nginx:9.99", "docker.io/library/nginx:9.99"},
		{"rancher/mirrored-pause:3.6", "docker.io/rancher/mirrored-pause:3.6"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app@sha256:" + strings.Repeat("0", 64), "localhost:5000/app@sha256:" + strings.Repeat("0", 64)},
		{"ghcr.io/a/b:v1@sha256:" + strings.Repeat("1", 64), "ghcr.io/a/b:v1@sha256:" + strings.Repeat("1", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := parseRef(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want {
				t.Errorf("parseRef(%q) = %q, want %q", tt.in, r, tt.want)
			}
		})
	}
	if _, err := parseRef("UPPER/case:tag"); err == nil {
		t.Error("parseRef accepted an invalid reference")
	}
}

func TestResolveUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused

	start := time.Now()
	_, err = Resolve(context.Background(), []string{addr + "/app:1"}, "amd64", fastOpts(WithRetries(2))...)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v is not ErrUnreachable", err)
	}
	for _, s := range []string{addr + "/app:1", "after 3 attempts", "check the network"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v, want the retries bounded to seconds", elapsed)
	}
}

// staticKeychain hands the same credentials to every registry.
type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

func TestResolveAuth(t *testing.T) {
	f := newFixture(t)
	// A registry that wants basic auth for everything.
	guarded := newTestRegistry(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "ferry" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"log in"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	pushImage(t, guarded.ref("single:1"), f.imgs["single:1 linux/amd64"],
		remote.WithAuth(&authn.Basic{Username: "ferry", Password: "s3cret"}))
	tests := []struct {
		name    string
		kc      authn.Keychain
		wantErr error
	}{
		{name: "no credentials", kc: authn.NewMultiKeychain(), wantErr: ErrUnauthorized},
		{name: "wrong credentials", kc: staticKeychain{"ferry", "nope"}, wantErr: ErrUnauthorized},
		{name: "right credentials", kc: staticKeychain{"ferry", "s3cret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(context.Background(), []string{guarded.ref("single:1")}, "amd64", fastOpts(WithKeychain(tt.kc))...)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "docker login "+guarded.host) {
				t.Fatalf("error %v, want %v naming 'docker login %s'", err, tt.wantErr, guarded.host)
			}
		})
	}
}

func TestResolveRetries(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		failures int // 503 answers before the registry recovers
		retries  int
		wantErr  bool
	}{
		{name: "recovers within the retries", failures: 2, retries: 3},
		{name: "no retries", failures: 1, retries: 0, wantErr: true},
		{name: "fails more often than retried", failures: 10, retries: 2, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			left := tt.failures
			flaky := newTestRegistry(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					fail := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && left > 0
					if fail {
						left--
					}
					mu.Unlock()
					if fail {
						http.Error(w, "busy", http.StatusServiceUnavailable)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			pushImage(t, flaky.ref("single:1"), f.imgs["single:1 linux/amd64"])
			mu.Lock()
			left = tt.failures
			mu.Unlock()
			start := time.Now()
			_, err := Resolve(context.Background(), []string{flaky.ref("single:1")}, "amd64", fastOpts(WithRetries(tt.retries))...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "answered HTTP 503 after") {
				t.Errorf("error %q does not say the registry answered 503", err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v, want the retries bounded to seconds", time.Since(start))
			}
		})
	}
}

package builder_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/bundle/builder"
	"github.com/ferry-k3s/ferry/bundle/spec"
	"github.com/ferry-k3s/ferry/internal/demo"
	"github.com/ferry-k3s/ferry/signing"
)

func startDemo(t *testing.T, arches ...string) (*demo.Env, signing.Signer, signing.Verifier) {
	t.Helper()
	env, err := demo.Start(context.Background(), t.TempDir(), demo.Options{Arches: arches})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	s, err := signing.LoadSigner(env.KeyPath, signing.StaticPass([]byte(env.Password)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := signing.LoadVerifier(env.PubPath)
	if err != nil {
		t.Fatal(err)
	}
	return env, s, v
}

func opts(env *demo.Env, s signing.Signer, cache, out string) builder.Options {
	return builder.Options{SpecPath: env.SpecPath, OutDir: out, Signer: s, CacheDir: cache, Retries: 1, RetryDelay: 10 * time.Millisecond}
}

func TestBuildDemo(t *testing.T) {
	env, s, v := startDemo(t, "amd64", "arm64")
	cache, out := t.TempDir(), t.TempDir()
	ctx := context.Background()

	events := make(chan builder.Event, 1<<16)
	o := opts(env, s, cache, out)
	o.Progress = events
	sum, err := builder.Build(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	stages := map[builder.Stage]bool{}
	for len(events) > 0 {
		stages[(<-events).Stage] = true
	}
	for _, st := range []builder.Stage{builder.StageDownload, builder.StageImages, builder.StageWrite} {
		if !stages[st] {
			t.Errorf("no progress event for stage %s", st)
		}
	}
	rep, err := bundle.VerifyFile(ctx, sum.Bundle, bundle.WithVerifier(v))
	if err != nil {
		t.Fatalf("verify the built bundle: %v", err)
	}
	if !rep.Detached {
		t.Error("no detached signature written beside the bundle")
	}
	m := rep.Manifest
	var paths []string
	for _, e := range m.Entries {
		paths = append(paths, e.Path)
	}
	want := []string{
		"charts/longhorn-1.7.2.tgz", "charts/nfs-subdir-external-provisioner-4.0.18.tgz",
		"images/amd64/ferry-images.tar", "images/amd64/k3s-airgap-images.tar.zst",
		"images/arm64/ferry-images.tar", "images/arm64/k3s-airgap-images.tar.zst",
		"k3s/amd64/k3s", "k3s/arm64/k3s", "sbom.spdx.json",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("entries:\n got %v\nwant %v", paths, want)
	}
	// 7 Longhorn images (3 only in args, env or a ConfigMap), 1 NFS, 1 extra; per arch.
	if len(m.Images) != 2*len(demo.Repos) {
		t.Errorf("manifest lists %d images, want %d", len(m.Images), 2*len(demo.Repos))
	}
	for _, repo := range []string{"longhornio/longhorn-engine", "longhornio/longhorn-instance-manager", "longhornio/support-bundle-kit", "library/nginx"} {
		if !slices.ContainsFunc(m.Images, func(im bundle.Image) bool { return strings.Contains(im.Ref, repo) }) {
			t.Errorf("image %s (only in args, env, a ConfigMap or images.extra) was not carried", repo)
		}
	}
	nfs := m.Charts[1]
	if nfs.Name != "nfs-subdir-external-provisioner" || !slices.Equal(nfs.Required, []string{"nfs.server", "nfs.path"}) || nfs.Namespace != "nfs-provisioner" {
		t.Errorf("chart record: %+v", nfs)
	}
	if _, ok := nfs.Values["nfs"]; ok {
		t.Error("a build-time placeholder for a required value leaked into the manifest")
	}
	if m.Traefik == nil {
		t.Error("traefik values were not carried")
	}
	first, _ := os.ReadFile(sum.Bundle)

	// Rebuild with a warm cache: no blob downloaded, the same bytes.
	before := env.Requests()
	sum2, err := builder.Build(ctx, opts(env, s, cache, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(sum2.Bundle)
	if !bytes.Equal(first, second) {
		t.Error("a rebuild of the same spec with the same key gave different bytes")
	}
	if sum2.Download > 64<<10 {
		t.Errorf("warm rebuild downloaded %d bytes; only tag lookups should remain", sum2.Download)
	}
	t.Logf("cold build: %d requests, %d bytes; warm rebuild: %d requests (tag lookups), %d bytes", sum.Requests, sum.Download, env.Requests()-before, sum2.Download)

	// Lock, then a locked rebuild makes no request at all.
	if _, err := builder.WriteLock(ctx, opts(env, s, cache, out)); err != nil {
		t.Fatal(err)
	}
	before = env.Requests()
	sum3, err := builder.Build(ctx, withLocked(opts(env, s, cache, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	if n := env.Requests() - before; n != 0 || sum3.Requests != 0 {
		t.Errorf("locked rebuild with a warm cache made %d requests (summary says %d), want 0", n, sum3.Requests)
	}
	third, _ := os.ReadFile(sum3.Bundle)
	if !bytes.Equal(first, third) {
		t.Error("the locked rebuild differs from the first build")
	}

	// A lock that disagrees with what resolves fails the locked build.
	lockPath := filepath.Join(filepath.Dir(env.SpecPath), spec.LockName)
	l, err := spec.ReadLock(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	l.Charts[0].SHA256 = strings.Repeat("0", 64)
	if err := l.Write(lockPath); err != nil {
		t.Fatal(err)
	}
	_, err = builder.Build(ctx, withLocked(opts(env, s, cache, t.TempDir())))
	var le *builder.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("locked build against a changed lock: %v, want a LockedError", err)
	}
}

func withLocked(o builder.Options) builder.Options { o.Locked = true; return o }

func TestBuildBadInput(t *testing.T) {
	env, s, _ := startDemo(t)
	specText, _ := os.ReadFile(env.SpecPath)
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown image tag", "library/nginx:1.27", "library/nginx:9.99", "nginx:9.99"},
		{"unreachable registry", env.Registry + "/library/nginx:1.27", "127.0.0.1:1/library/nginx:1.27", "127.0.0.1:1"},
		{"chart version missing", "version: 4.0.18", "version: 4.0.99", "4.0.99"},
		{"k3s release missing", "version: " + demo.K3sVersion, "version: v1.31.99+k3s1", "not found"},
		{"malformed spec", "kind: Bundle", "kind: Bundel", "ferry.yaml:2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(specText, []byte(tc.from)) {
				t.Fatalf("demo spec has no %q", tc.from)
			}
			dir := t.TempDir()
			sp := filepath.Join(dir, "ferry.yaml")
			os.WriteFile(sp, bytes.Replace(specText, []byte(tc.from), []byte(tc.to), 1), 0o644)
			out := t.TempDir()
			o := opts(env, s, t.TempDir(), out)
			o.SpecPath = sp
			start := time.Now()
			_, err := builder.Build(context.Background(), o)
			if err == nil {
				t.Fatal("build succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if d := time.Since(start); d > 60*time.Second {
				t.Errorf("took %v: retries are not bounded", d)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("failed build left %d files in the output directory", len(left))
			}
		})
	}
}

// A key given as a signing.Key is decrypted while the spec resolves: the
// right password signs with it, a wrong one fails before anything is
// written, with the key named.
func TestBuildDecryptsKeyAlongside(t *testing.T) {
	env, s, v := startDemo(t)
	cache := t.TempDir()
	for _, pw := range []string{"wrong", env.Password} {
		k, err := signing.ReadKey(env.KeyPath, signing.StaticPass([]byte(pw)))
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		o := opts(env, nil, cache, out)
		o.Key = k
		sum, err := builder.Build(context.Background(), o)
		if pw == "wrong" {
			if !errors.Is(err, signing.ErrWrongPassword) || !strings.Contains(err.Error(), env.KeyPath) {
				t.Fatalf("build with a wrong password: %v, want ErrWrongPassword naming %s", err, env.KeyPath)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("failed build left %d files in the output directory", len(left))
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		want, _ := signing.KeyID(s.PublicKey())
		if !sum.Signed || sum.KeyID != want {
			t.Fatalf("signed %v by %q, want %q", sum.Signed, sum.KeyID, want)
		}
		if rep, err := bundle.VerifyFile(context.Background(), sum.Bundle, bundle.WithVerifier(v)); err != nil || !rep.Detached {
			t.Fatalf("verify: %v (detached signature checked: %v)", err, rep != nil && rep.Detached)
		}
	}
}

func TestBuildCancelled(t *testing.T) {
	env, s, _ := startDemo(t)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := builder.Build(ctx, opts(env, s, t.TempDir(), out)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled build: %v", err)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("cancelled build left %v", left)
	}
}

// TestBuildDockerRegistry builds from a real registry, Debian's
// docker-registry on loopback, started by .ci/run (FERRY_TEST_REGISTRY).
func TestBuildDockerRegistry(t *testing.T) {
	reg := os.Getenv("FERRY_TEST_REGISTRY")
	if reg == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("FERRY_TEST_REGISTRY is not set: .ci/run starts docker-registry on loopback and sets it")
		}
		t.Skip("FERRY_TEST_REGISTRY not set (run docker-registry on 127.0.0.1 and point it there)")
	}
	env, err := demo.Start(context.Background(), t.TempDir(), demo.Options{Arches: []string{"amd64", "arm64"}, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	s, err := signing.LoadSigner(env.KeyPath, signing.StaticPass([]byte(env.Password)))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := signing.LoadVerifier(env.PubPath)
	sum, err := builder.Build(context.Background(), opts(env, s, t.TempDir(), t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Images != 2*len(demo.Repos) {
		t.Errorf("carried %d images from docker-registry, want %d", sum.Images, 2*len(demo.Repos))
	}
	if _, err := bundle.VerifyFile(context.Background(), sum.Bundle, bundle.WithVerifier(v)); err != nil {
		t.Fatal(err)
	}
}

// TestLockLocalPathsRelative: a local chart is locked relative to the spec,
// so a lock made on one machine holds on another.
func TestLockLocalPathsRelative(t *testing.T) {
	env, s, _ := startDemo(t)
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "charts", "nfs"), os.DirFS("../../internal/demo/charts/nfs-subdir-external-provisioner")); err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "ferry.yaml")
	os.WriteFile(sp, []byte(`apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: local, version: 0.1.0}
k3s: {version: `+demo.K3sVersion+`, source: `+env.ReleaseURL+`}
charts:
  - name: nfs-subdir-external-provisioner
    repo: ./charts/nfs
    version: 4.0.18
    values: {image: {repository: `+env.Registry+`/sig-storage/nfs-subdirectory-external-provisioner}}
    required: [nfs.server]
`), 0o644)
	o := opts(env, s, t.TempDir(), t.TempDir())
	o.SpecPath = sp
	p, err := builder.WriteLock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Lock.Charts[0].Repo; got != "charts/nfs" {
		t.Errorf("locked repo %q, want charts/nfs (relative to the spec)", got)
	}
	if len(p.Refs) != 1 || !strings.HasSuffix(p.Refs[0], "nfs-subdirectory-external-provisioner:v4.0.2") {
		t.Errorf("images from the local chart: %v", p.Refs)
	}
}

// TestBuildExtraFilesAndBadSources: extra files land under files/ with
// their host path and mode; a wrong upstream checksum, a wrong file digest
// and a chart that fails to render each stop the build with a clear error.
func TestBuildExtraFilesAndBadSources(t *testing.T) {
	env, s, v := startDemo(t)
	dir := t.TempDir()
	rpm := filepath.Join(dir, "k3s-selinux-1.6-1.el9.noarch.rpm")
	os.WriteFile(rpm, []byte("not really an rpm"), 0o644)
	got, _ := os.ReadFile(rpm)
	sum := sha256sum(got)
	if err := os.CopyFS(filepath.Join(dir, "broken"), os.DirFS("../../testdata/charts/broken")); err != nil {
		t.Fatal(err)
	}
	base := `apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: files, version: 0.1.0}
k3s: {version: ` + demo.K3sVersion + `, source: ` + env.ReleaseURL + `}
`
	files := `files:
  - source: ./k3s-selinux-1.6-1.el9.noarch.rpm
    sha256: ` + sum + `
    hostPath: /opt/ferry/files/k3s-selinux.rpm
    mode: "0600"
`
	write := func(text string) string {
		p := filepath.Join(dir, "ferry.yaml")
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	o := opts(env, s, t.TempDir(), t.TempDir())
	o.SpecPath = write(base + files)
	res, err := builder.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bundle.VerifyFile(context.Background(), res.Bundle, bundle.WithVerifier(v))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := rep.Manifest.Entry("files/k3s-selinux-1.6-1.el9.noarch.rpm")
	if !ok || e.HostPath != "/opt/ferry/files/k3s-selinux.rpm" || e.Mode != 0o600 || e.Role != bundle.RoleFile {
		t.Errorf("extra file entry: %+v (present %v)", e, ok)
	}

	bad := []struct{ name, spec, want string }{
		{"wrong file digest", base + strings.Replace(files, sum, strings.Repeat("a", 64), 1), "does not match the expected sha256"},
		{"chart fails to render", base + "charts:\n  - name: broken\n    repo: ./broken\n    version: 0.1.0\n", "render chart broken 0.1.0: template broken/templates/"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(env, s, t.TempDir(), t.TempDir())
			o.SpecPath = write(tc.spec)
			_, err := builder.Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	t.Run("wrong upstream checksum", func(t *testing.T) {
		bad, err := demo.Start(context.Background(), t.TempDir(), demo.Options{CorruptChecksum: "k3s"})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		o := opts(bad, s, t.TempDir(), t.TempDir())
		_, err = builder.Build(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "k3s") || !strings.Contains(err.Error(), "amd64") {
			t.Fatalf("got %v, want an error naming the asset and arch", err)
		}
		t.Log(err)
	})
}

func sha256sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestBuildSplit: --split writes parts that verify from the first one.
func TestBuildSplit(t *testing.T) {
	env, s, v := startDemo(t)
	o := opts(env, s, t.TempDir(), t.TempDir())
	o.Split = bundle.MinPartSize
	sum, err := builder.Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Parts) == 0 || sum.Parts[0] != bundle.PartPath(sum.Bundle, 1) {
		t.Fatalf("summary parts %v", sum.Parts)
	}
	if _, err := os.Stat(sum.Bundle); err == nil {
		t.Error("a split build also wrote the whole bundle")
	}
	if _, err := bundle.VerifyFile(context.Background(), sum.Parts[0], bundle.WithVerifier(v)); err != nil {
		t.Fatal(err)
	}
}

package builder

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/internal/directio"
	"github.com/ferry-k3s/ferry/internal/smallfile"
	"github.com/ferry-k3s/ferry/signing"
)

// keptBundles is how many finished bundles the cache remembers for reuse.
const keptBundles = 2

// The bundle writer is deterministic: the same manifest, entries, key and
// options give the same bytes (signatures use RFC 6979 nonces). So the
// cache remembers, under a key made of everything a bundle depends on,
// where the last such bundle was written with its size and sha256, and a
// rebuild whose inputs resolve the same reuses those bytes instead of
// compressing the whole payload again. Nothing is trusted without its full
// hash: the bytes are hashed as they are copied into a temporary file
// beside the new output (or hashed in place when the output is that same
// file) and used only when the sha256 matches; otherwise the bundle is
// written afresh. The output is a file of its own, never a link into the
// cache or to the earlier output.

// reused describes a finished bundle the cache remembers.
type reused struct {
	Path   string `json:"path"` // absolute path it was written to
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// bundleKey names the bundle Write would make of m and sources with o.
func bundleKey(m *bundle.Manifest, sources []bundle.Source, o *Options, created time.Time) (key string, final *bundle.Manifest, err error) {
	mk := *m
	mk.Format = bundle.FormatVersion
	mk.Entries = make([]bundle.Entry, len(sources))
	for i, s := range sources {
		mk.Entries[i] = s.Entry
	}
	slices.SortFunc(mk.Entries, func(a, b bundle.Entry) int { return strings.Compare(a.Path, b.Path) })
	mk.KeyID = ""
	if o.Signer != nil {
		if mk.KeyID, err = signing.KeyID(o.Signer.PublicKey()); err != nil {
			return "", nil, err
		}
	}
	b, err := json.Marshal(struct {
		Manifest *bundle.Manifest
		Level    int
		ModTime  int64
	}{&mk, int(o.Level), created.Unix()})
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(append([]byte("ferry-bundle v2\n"), b...))
	return hex.EncodeToString(sum[:]), &mk, nil
}

func (o *Options) bundleRecord(key string) string {
	return filepath.Join(o.CacheDir, "bundles", key+".json")
}

// reuseBundle puts the bundle the cache remembers for key at out, checked
// by its full sha256, and writes its sidecars. It reports false, with no
// error, when there is none, it is gone, or its bytes changed.
func reuseBundle(ctx context.Context, o *Options, key, out string) (*reused, bool, error) {
	b, err := smallfile.Read(o.bundleRecord(key), 4<<10)
	if err != nil {
		return nil, false, nil
	}
	var r reused
	if err := json.Unmarshal(b, &r); err != nil || r.Path == "" || r.Size <= 0 || len(r.SHA256) != 64 {
		return nil, false, nil
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return nil, false, nil
	}
	var ok bool
	if r.Path == absOut {
		ok = hashInPlace(out, &r)
	} else {
		ok, err = copyChecked(ctx, r.Path, out, &r)
		if err != nil {
			return nil, false, err
		}
	}
	if !ok {
		return nil, false, nil
	}
	sum, _ := hex.DecodeString(r.SHA256)
	if err := bundle.WriteSidecars(ctx, out, sum, o.Signer); err != nil {
		os.Remove(out)
		return nil, false, err
	}
	return &r, true, nil
}

// openRegular opens path without following a link, and only a regular
// file of the remembered size.
func openRegular(path string, size int64) (*os.File, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != size {
		f.Close()
		return nil, false
	}
	return f, true
}

// hashInPlace reports whether out is a regular file holding exactly the
// remembered bytes.
func hashInPlace(out string, r *reused) bool {
	f, ok := openRegular(out, r.Size)
	if !ok {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return err == nil && n == r.Size && hex.EncodeToString(h.Sum(nil)) == r.SHA256
}

// copyChecked copies the remembered bundle from src to a temporary file
// beside out, hashing it as it goes, and renames it over out only when its
// sha256 matches. It reports false when src is gone or changed.
func copyChecked(ctx context.Context, src, out string, r *reused) (bool, error) {
	in, ok := openRegular(src, r.Size)
	if !ok {
		return false, nil
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".reuse-*")
	if err != nil {
		return false, fmt.Errorf("build: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Written like a fresh bundle: past the page cache where the file
	// system allows it (internal/directio), then synced.
	var w interface {
		io.Writer
		Flush() error
	}
	dw := directio.NewWriter(tmp)
	if dw != nil {
		w = dw
		defer func() {
			if !done {
				dw.Abort()
			}
		}()
	} else {
		w = bufio.NewWriterSize(tmp, 1<<20)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), &ctxReader{ctx: ctx, r: in})
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("build: reuse %s: %w", src, err)
	}
	if n != r.Size || hex.EncodeToString(h.Sum(nil)) != r.SHA256 {
		return false, nil
	}
	if err := w.Flush(); err != nil {
		return false, fmt.Errorf("build: write %s: %w", out, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return false, fmt.Errorf("build: write %s: %w", out, err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("build: write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("build: write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return false, fmt.Errorf("build: write %s: %w", out, err)
	}
	done = true
	return true, nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// keepBundle remembers a just-written bundle under key and forgets all but
// the newest keptBundles. Failing to remember is not a build failure: it
// is logged.
func keepBundle(o *Options, key, out string, res *bundle.Result) {
	dir := filepath.Join(o.CacheDir, "bundles")
	abs, err := filepath.Abs(out)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = writeCacheJSON(dir, o.bundleRecord(key), reused{Path: abs, Size: res.Size, SHA256: hex.EncodeToString(res.SHA256)})
	}
	if err != nil {
		o.logf("bundle not kept for reuse: %v", err)
		return
	}
	pruneBundles(dir)
}

// pruneBundles forgets all but the keptBundles newest records, and removes
// the bundle copies older versions of Ferry kept in the cache.
func pruneBundles(dir string) {
	old, _ := filepath.Glob(filepath.Join(dir, "*.ferry"))
	for _, f := range old {
		os.Remove(f)
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	type kept struct {
		path string
		mod  time.Time
	}
	var ks []kept
	for _, m := range metas {
		if st, err := os.Stat(m); err == nil {
			ks = append(ks, kept{m, st.ModTime()})
		}
	}
	slices.SortFunc(ks, func(a, b kept) int { return b.mod.Compare(a.mod) })
	for i := keptBundles; i < len(ks); i++ {
		os.Remove(ks[i].path)
	}
}

package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// keptBundles is how many finished bundles the cache keeps for reuse.
const keptBundles = 2

// The bundle writer is deterministic: the same manifest, entries, key and
// options give the same bytes (signatures use RFC 6979 nonces). So a
// finished bundle is kept in the cache, hard-linked (no copy), under a key
// made of everything it depends on, and a rebuild whose inputs resolve the
// same links it into place instead of compressing and hashing the whole
// payload again.

// reused describes a cached bundle.
type reused struct {
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	ModTime int64  `json:"modTimeNs"` // of the cached file, to notice a change in place
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
	sum := sha256.Sum256(append([]byte("ferry-bundle v1\n"), b...))
	return hex.EncodeToString(sum[:]), &mk, nil
}

func (o *Options) bundleCache(key string) string {
	return filepath.Join(o.CacheDir, "bundles", key)
}

// reuseBundle links the cached bundle for key to out and writes its
// sidecars. It reports false, with no error, when there is none or it
// changed since it was cached.
func reuseBundle(ctx context.Context, o *Options, key, out string) (*reused, bool, error) {
	cached := o.bundleCache(key)
	b, err := os.ReadFile(cached + ".json")
	if err != nil {
		return nil, false, nil
	}
	var r reused
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, false, nil
	}
	st, err := os.Stat(cached + ".ferry")
	if err != nil || st.Size() != r.Size || st.ModTime().UnixNano() != r.ModTime {
		return nil, false, nil
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".reuse")
	os.Remove(tmp)
	if err := os.Link(cached+".ferry", tmp); err != nil {
		return nil, false, nil // another filesystem: build afresh
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return nil, false, fmt.Errorf("build: %w", err)
	}
	if err := writeSidecars(ctx, o, out, r.SHA256); err != nil {
		os.Remove(out)
		return nil, false, err
	}
	return &r, true, nil
}

// writeSidecars writes out.sha256 and, when signed, out.sig, as
// bundle.WriteFile does.
func writeSidecars(ctx context.Context, o *Options, out, sum string) error {
	if err := os.WriteFile(out+".sha256", []byte(sum+"  "+filepath.Base(out)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s.sha256: %w", out, err)
	}
	if o.Signer == nil {
		os.Remove(out + ".sig")
		return nil
	}
	d, err := hex.DecodeString(sum)
	if err != nil {
		return fmt.Errorf("sign %s: %w", out, err)
	}
	sig, err := o.Signer.SignDigest(ctx, d)
	if err != nil {
		return fmt.Errorf("sign %s: %w", out, err)
	}
	if err := os.WriteFile(out+".sig", signing.EncodeSignature(sig), 0o644); err != nil {
		return fmt.Errorf("write %s.sig: %w", out, err)
	}
	return nil
}

// keepBundle hard-links a just-written bundle into the cache under key
// and drops all but the newest keptBundles. Failing to cache is not a
// build failure: it is logged.
func keepBundle(o *Options, key, out string, res *bundle.Result) {
	dir := filepath.Join(o.CacheDir, "bundles")
	cached := o.bundleCache(key)
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		os.Remove(cached + ".ferry")
		err = os.Link(out, cached+".ferry")
	}
	var st os.FileInfo
	if err == nil {
		st, err = os.Stat(cached + ".ferry")
	}
	if err == nil {
		err = writeCacheJSON(dir, cached+".json", reused{Size: st.Size(), SHA256: hex.EncodeToString(res.SHA256), ModTime: st.ModTime().UnixNano()})
	}
	if err != nil {
		os.Remove(cached + ".ferry")
		o.logf("bundle not kept for reuse: %v", err)
		return
	}
	pruneBundles(dir)
}

// pruneBundles removes all but the keptBundles newest cached bundles.
func pruneBundles(dir string) {
	metas, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	type kept struct {
		base string
		mod  time.Time
	}
	var ks []kept
	for _, m := range metas {
		if st, err := os.Stat(m); err == nil {
			ks = append(ks, kept{strings.TrimSuffix(m, ".json"), st.ModTime()})
		}
	}
	slices.SortFunc(ks, func(a, b kept) int { return b.mod.Compare(a.mod) })
	for i := keptBundles; i < len(ks); i++ {
		os.Remove(ks[i].base + ".json")
		os.Remove(ks[i].base + ".ferry")
	}
}

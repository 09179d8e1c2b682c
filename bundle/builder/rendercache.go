package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ferry-k3s/ferry/bundle/charts"
	"github.com/ferry-k3s/ferry/internal/atomicfile"
)

// renderCacheFormat changes whenever what a render cache entry means
// changes.
const renderCacheFormat = 1

// maxRenderCacheEntry bounds an entry read back (a list of image names).
const maxRenderCacheEntry = 4 << 20

// renderCache remembers which images each chart rendered to, by chart
// digest, render inputs and the ferry executable itself, so that a rebuild
// with unchanged inputs starts no render worker (each costs a process
// start, 50-100 ms). A new ferry binary, a changed chart or changed values
// render again. Entries live in CACHE/renders/<key>.json.
type renderCache struct {
	dir  string
	self string // identity of this executable; "" disables the cache
}

func newRenderCache(cacheDir string) *renderCache {
	rc := &renderCache{dir: filepath.Join(cacheDir, "renders")}
	exe, err := os.Executable()
	if err != nil {
		return rc
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return rc
	}
	rc.self = fmt.Sprintf("%s %d %d", exe, fi.Size(), fi.ModTime().UnixNano())
	return rc
}

// key names the render of archive a with opts (limits aside: they change
// whether a render succeeds, not what it finds).
func (rc *renderCache) key(a *charts.Archive, opts charts.RenderOptions) string {
	if rc.self == "" {
		return ""
	}
	b, err := json.Marshal(struct {
		Format                              int
		Self, Chart                         string
		ReleaseName, Namespace, KubeVersion string
		Values                              map[string]any
		APIVersions                         []string
	}{renderCacheFormat, rc.self, a.SHA256, opts.ReleaseName, opts.Namespace, opts.KubeVersion, opts.Values, opts.APIVersions})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lookup returns the images a cached render found.
func (rc *renderCache) lookup(key string) ([]string, bool) {
	if key == "" {
		return nil, false
	}
	f, err := os.Open(filepath.Join(rc.dir, key+".json"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var refs []string
	if err := json.NewDecoder(io.LimitReader(f, maxRenderCacheEntry)).Decode(&refs); err != nil {
		return nil, false
	}
	return refs, true
}

// store records the images a render found; a failure only costs the next
// build a render.
func (rc *renderCache) store(key string, refs []string) {
	if key == "" {
		return
	}
	b, err := json.Marshal(refs)
	if err != nil || os.MkdirAll(rc.dir, 0o755) != nil {
		return
	}
	_ = atomicfile.Write(filepath.Join(rc.dir, key+".json"), b, 0o644)
}

package installer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"path"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// item is one thing the place phase puts on the host: a staged file (Src
// in the staging directory) or a symbolic link (Link).
type item struct {
	Src    string      // host path of the staged file; empty for a link
	Dest   string      // host path it is placed at
	Mode   fs.FileMode // permission bits of a file
	Size   int64
	SHA256 string
	Link   string // target of a symbolic link
	// IfAbsent places the item only when nothing is at Dest (the kubectl,
	// crictl and ctr links).
	IfAbsent bool
}

// plan is what the phases of one install share: the options, the bundle
// being read and the items staged so far.
type plan struct {
	opts     InstallOptions
	host     Host
	reader   *bundle.Reader
	manifest *bundle.Manifest
	// manifestSHA256 is the hex sha256 of bundle.json's exact bytes.
	manifestSHA256 string
	// keyID is the key that verified the manifest, "" when the signature
	// was not checked (recorded and shown as unsigned, never the id the
	// manifest claims).
	keyID string
	// id names this install: its staging and backup directories.
	id string
	// templates holds the bundle's template overrides, keyed by their path
	// below templates/.
	templates map[string][]byte
	// items are placed in order; the stage and render phases append.
	items []item
	// ferryDirs are FerryDir and its parents when the stage phase made them.
	ferryDirs []string
	// journal is set by the place phase.
	journal *journal
	// state is recorded by the record phase.
	state *State
}

func (p *plan) staging() string     { return path.Join(FerryDir, stagingPrefix+p.id) }
func (p *plan) backupDir() string   { return path.Join(BackupDir, p.id) }
func (p *plan) journalPath() string { return path.Join(p.staging(), "journal.json") }

// stageBytes writes b into the staging directory at rel and adds it to the
// items to place at dest.
func (p *plan) stageBytes(ctx context.Context, rel, dest string, b []byte, mode fs.FileMode) error {
	src := path.Join(p.staging(), "render", rel)
	if _, err := mkdirAll(ctx, p.host, path.Dir(src), 0o700); err != nil {
		return err
	}
	if err := p.host.WriteFile(ctx, src, bytes.NewReader(b), mode); err != nil {
		return err
	}
	p.items = append(p.items, item{Src: src, Dest: dest, Mode: mode, Size: int64(len(b)), SHA256: sha256Hex(b)})
	return nil
}

// entryDest says where a bundle entry goes on this host, or "" when it is
// not placed (another arch, a server-only entry on an agent, templates,
// the SBOM).
func (p *plan) entryDest(e bundle.Entry) (dest string, mode fs.FileMode) {
	if e.Arch != "" && e.Arch != p.opts.Arch {
		return "", 0
	}
	mode = fs.FileMode(e.Mode)
	if mode == 0 {
		mode = 0o644
	}
	switch e.Role {
	case bundle.RoleK3sBinary:
		return K3sBinary, 0o755
	case bundle.RoleAirgapImages:
		return path.Join(ImagesDir, "k3s-airgap-images-"+e.Arch+".tar.zst"), 0o644
	case bundle.RoleImages:
		return path.Join(ImagesDir, "ferry-images-"+e.Arch+".tar"), 0o644
	case bundle.RoleChart:
		if p.opts.Node.Role != manifests.RoleServer {
			return "", 0
		}
		return path.Join(ChartsDir, path.Base(e.Path)), 0o644
	case bundle.RoleFile:
		return e.HostPath, mode
	}
	return "", 0
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

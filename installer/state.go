package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/ferry-k3s/ferry/manifests"
)

// StateFormat is the version of state.json this package writes.
const StateFormat = 1

// State is /var/lib/ferry/state.json: what ferry installed on the host and
// from which bundle. It is written last, atomically, after every file it
// lists is in place and synced, so a host with a state.json has a complete
// install. It holds no secrets.
//
// An upgrade or rollback keeps the install it replaced in Previous, with
// the files that differ below PreviousDir/ID (Kept), so that Rollback can
// swap back.
type State struct {
	Format int `json:"format"`
	// ID names the install: its staging directory and BackupDir/ID.
	ID          string         `json:"id"`
	Bundle      BundleRecord   `json:"bundle"`
	InstalledAt time.Time      `json:"installedAt"`
	Role        manifests.Role `json:"role"`
	Arch        string         `json:"arch"`
	Node        NodeRecord     `json:"node"`
	// Service is the init system's unit or script name ("k3s.service").
	Service ServiceRecord `json:"service"`
	// Files lists every file and link placed, in the order placed.
	Files []FileRecord `json:"files"`
	// Dirs lists the directories ferry created, outermost first; uninstall
	// removes them when they are empty.
	Dirs []string `json:"dirs"`
	// Previous is the install the last upgrade or rollback replaced; nil
	// when none is kept. Its own Previous is always nil.
	Previous *State `json:"previous,omitempty"`
	// Kept, in a Previous state, is the directory below PreviousDir that
	// holds its files that differ from the current install's, at their
	// host paths (Kept + "/usr/local/bin/k3s").
	Kept string `json:"kept,omitempty"`
}

// BundleRecord identifies the installed bundle.
type BundleRecord struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	K3sVersion string `json:"k3sVersion"`
	// ManifestSHA256 is the hex sha256 of the exact bytes of bundle.json.
	ManifestSHA256 string `json:"manifestSHA256"`
	// KeyID is the signer's key id; empty for an unsigned bundle.
	KeyID string `json:"keyID,omitempty"`
	// Unsigned is true when the bundle was installed without a signature
	// check (--insecure-skip-signature): KeyID is then empty, whatever
	// the manifest claims.
	Unsigned bool `json:"unsigned,omitempty"`
}

// NodeRecord is the node's options without secrets: no token, and no
// password in the datastore endpoint.
type NodeRecord struct {
	ClusterInit       bool     `json:"clusterInit,omitempty"`
	Server            string   `json:"server,omitempty"`
	DatastoreEndpoint string   `json:"datastoreEndpoint,omitempty"`
	TLSSANs           []string `json:"tlsSANs,omitempty"`
	NodeLabels        []string `json:"nodeLabels,omitempty"`
	NodeTaints        []string `json:"nodeTaints,omitempty"`
	RegistryMirrors   []string `json:"registryMirrors,omitempty"`
}

// ServiceRecord says how k3s is run.
type ServiceRecord struct {
	Init    string `json:"init"` // "systemd" or "openrc"
	Name    string `json:"name"`
	Started bool   `json:"started"`
}

// FileRecord is one placed file or link.
type FileRecord struct {
	Path   string      `json:"path"`
	SHA256 string      `json:"sha256,omitempty"`
	Mode   fs.FileMode `json:"mode,omitempty"`
	Size   int64       `json:"size,omitempty"`
	// Link is the target of a symbolic link.
	Link string `json:"link,omitempty"`
	// Backup is where the file this one replaced was kept; uninstall moves
	// it back.
	Backup string `json:"backup,omitempty"`
}

// ReadState reads state.json from h; it returns an error matching
// ErrNotInstalled when there is none.
func ReadState(ctx context.Context, h Host) (*State, error) {
	f, err := h.Open(ctx, StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotInstalled
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", StateFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", StateFile, err)
	}
	if len(b) > maxStateSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes, which no install of ferry's writes: restore it from a backup or remove the install by hand", StateFile, maxStateSize)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w: the file is damaged; restore it or remove the install by hand", StateFile, err)
	}
	if s.Format != StateFormat {
		return nil, fmt.Errorf("read %s: format %d is not supported (this ferry-install reads %d): use a matching ferry-install", StateFile, s.Format, StateFormat)
	}
	return &s, nil
}

// writeState writes s atomically.
func writeState(ctx context.Context, h Host, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return h.WriteFile(ctx, StateFile, bytes.NewReader(append(b, '\n')), 0o644)
}

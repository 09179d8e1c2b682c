package preflight

import (
	"context"
	"fmt"
	"path"

	"github.com/ferry-k3s/ferry/bundle"
)

// DataDir is k3s's data directory, where the bundle is staged and unpacked.
const DataDir = "/var/lib/rancher/k3s"

func checkDisk(_ context.Context, h *host) Check {
	target := h.nearestExisting(DataDir)
	free, err := h.freeBytes(target)
	if err != nil {
		return warn("cannot read free space at %s: %v", target, err)
	}
	if h.opts.Manifest == nil {
		return warn("%s free at %s; no bundle given, so the space it needs was not compared", mib(free), target).
			withFix("pass --bundle to compare with the bundle's unpacked size")
	}
	need := DiskNeeded(h.opts.Manifest)
	if free < need {
		return fail("%s free at %s; the bundle needs %s (%d bytes: its unpacked size plus room to stage its largest entry)", mib(free), target, mib(need), need).
			withFix(fmt.Sprintf("free at least %s more on the filesystem of %s (or grow it)", mib(need-free), target))
	}
	return pass("%s free at %s; the bundle needs %s", mib(free), target, mib(need))
}

// DiskNeeded returns the free space in bytes installing m needs: its
// unpacked payload plus one more copy of its largest entry, which is staged
// beside the file it replaces before the rename.
func DiskNeeded(m *bundle.Manifest) int64 {
	var largest int64
	for _, e := range m.Entries {
		largest = max(largest, e.Size)
	}
	return m.PayloadSize() + largest
}

// nearestExisting walks up from the host path p to the first directory
// that exists (links followed inside the root), stopping at "/".
func (h *host) nearestExisting(p string) string {
	for p != "/" {
		if fi, err := h.fs.Stat(p); err == nil && fi.IsDir() {
			return p
		}
		p = path.Dir(p)
	}
	return p
}

// freeBytes returns the bytes available to an unprivileged writer on the
// filesystem holding the host path p.
func (h *host) freeBytes(p string) (int64, error) {
	st, err := h.fs.Statfs(p)
	if err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

package installer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size (e.g. "4m") on a fresh directory and
// unmounts it when the test ends; it skips when mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs as the target root (needs root and mount): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// roomyHost reports plenty of free space whatever the disk holds, as when
// another process fills the disk after the free-space check.
type roomyHost struct{ Host }

func (roomyHost) FreeSpace(context.Context, string) (int64, error) { return 1 << 40, nil }

// fillingHost fills the disk just before the first rename that makes a
// file live: staging and the journal succeeded, state.json cannot be
// written.
type fillingHost struct {
	Host
	filler string
	filled bool
}

func (h *fillingHost) Rename(ctx context.Context, from, to string) error {
	if !h.filled && !strings.HasPrefix(to, FerryDir+"/") {
		h.filled = true
		if err := fill(h.filler); err != nil {
			return err
		}
	}
	return h.Host.Rename(ctx, from, to)
}

// fill writes zeros to path until the disk is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for range 1 << 16 { // bounded: 4 GiB at most
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return nil
			}
			return err
		}
	}
	return errors.New("fill: the disk did not fill up")
}

// TestDiskFull installs into a small tmpfs: the free-space check refuses a
// bundle that cannot fit; a disk that fills up while staging or just
// before the commit gives ENOSPC, named, and a rollback that loses nothing.
func TestDiskFull(t *testing.T) {
	tests := []struct {
		name, size string
		payload    int
		host       func(h Host, root string) Host
		want       string
		enospc     bool
	}{
		{name: "refused by the free-space check", size: "4m", payload: 8 << 20,
			host: func(h Host, _ string) Host { return h }, want: "not enough free space"},
		{name: "fills while staging", size: "4m", payload: 8 << 20,
			host: func(h Host, _ string) Host { return roomyHost{h} }, want: "no space left on device", enospc: true},
		{name: "fills before the commit", size: "16m", payload: 1 << 20,
			host: func(h Host, root string) Host { return &fillingHost{Host: h, filler: filepath.Join(root, "filler")} },
			want: "no space left on device", enospc: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := writeBundle(t, bundleOptions{files: bigPayload(tt.payload)})
			root := mountTmpfs(t, tt.size)
			seedForeign(t, root)
			before := snapshot(t, root)
			lh, err := NewLocalHost(root)
			if err != nil {
				t.Fatal(err)
			}
			_, err = installInto(t, root, bp, withHost(tt.host(lh, root)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrRolledBack) {
				t.Fatalf("error %v: want a rolled back %q", err, tt.want)
			}
			t.Logf("%v", err)
			if tt.enospc && !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("error %v does not wrap ENOSPC", err)
			}
			os.Remove(filepath.Join(root, "filler"))
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("the root changed (something was lost or left):\n%s", d)
			}
		})
	}
}

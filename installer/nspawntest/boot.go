package nspawntest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// Boot starts a container for t and powers it off when t ends. It skips t,
// saying why, under -short, when not root, when systemd-nspawn, nsenter or
// debootstrap are missing, or when the container cannot boot here; it
// fails t when the image cannot be built.
func Boot(ctx context.Context, t testing.TB) *Container {
	t.Helper()
	if testing.Short() {
		t.Skip("systemd-nspawn tests boot real containers: skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("systemd-nspawn tests need root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "debootstrap", "cp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("systemd-nspawn tests need %s: %v (apt-get install systemd-container debootstrap)", tool, err)
		}
	}
	cache := CacheDir()
	img, err := Image(ctx, cache)
	if err != nil {
		t.Fatalf("build the %s image: %v", Suite, err)
	}
	c, err := Start(ctx, img, cache)
	if errors.Is(err, errSkip) {
		t.Skipf("systemd-nspawn cannot boot a container here: %v", err)
	}
	if err != nil {
		t.Fatalf("start container: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close container: %v", err)
		}
	})
	return c
}

package bench

import (
	"context"
	"os"
	"testing"
)

// TestMakeFixture writes a fixture to FERRY_FIXTURE_DIR when set (a tool
// for measuring by hand); otherwise it checks a tiny fixture verifies.
func TestMakeFixture(t *testing.T) {
	dir := os.Getenv("FERRY_FIXTURE_DIR")
	size := int64(3<<20 + 5)
	if dir != "" {
		size = benchSize()
	} else {
		dir = t.TempDir()
	}
	fx, err := MakeFixture(context.Background(), dir, size)
	if err != nil {
		t.Fatal(err)
	}
	if fx.Payload != size {
		t.Fatalf("payload %d, want %d", fx.Payload, size)
	}
}

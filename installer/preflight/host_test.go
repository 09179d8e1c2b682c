package preflight

import (
	"context"
	"os"
	"testing"
)

// TestRunRealHost runs every check against the machine the test runs on:
// whatever the statuses, Run must not error and must report every check.
func TestRunRealHost(t *testing.T) {
	for _, role := range []string{RoleServer, RoleAgent} {
		t.Run(role, func(t *testing.T) {
			r, err := Run(context.Background(), Options{Root: "/", Role: role})
			if err != nil {
				t.Fatalf("Run on /: %v", err)
			}
			if len(r.Checks) != len(checks) {
				t.Fatalf("got %d checks, want %d", len(r.Checks), len(checks))
			}
			for _, c := range r.Checks {
				if c.Status != StatusPass && c.Status != StatusWarn && c.Status != StatusFail {
					t.Errorf("check %s: status %q", c.Name, c.Status)
				}
			}
			if testing.Verbose() {
				r.WriteTable(os.Stdout)
			}
		})
	}
}

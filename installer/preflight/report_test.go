package preflight

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// brokenReport runs the checks on a host with swap on, firewalld enabled and
// no default route. The disk row's detail depends on the machine running
// the test, so it is replaced by a fixed text.
func brokenReport(t *testing.T) *Report {
	t.Helper()
	r, err := Run(context.Background(), Options{Root: hostTree(t, "swap", "firewalld", "no-default-route"), Role: RoleServer, Manifest: testManifest(), EmbeddedEtcd: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range r.Checks {
		if c.Name == "disk" {
			if c.Status != StatusPass {
				t.Fatalf("disk: %s %q", c.Status, c.Detail)
			}
			r.Checks[i].Detail = "(free space of the test machine)"
		}
	}
	return r
}

func TestWriteTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := brokenReport(t).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "table.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got := buf.String(); got != string(want) {
		t.Errorf("table differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.TrimRight(l, " ") != l {
			t.Errorf("trailing blanks in %q", l)
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := brokenReport(t)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, *r)
	}
	// Scripts match on these keys and values.
	var raw struct {
		Checks []map[string]any `json:"checks"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range raw.Checks {
		if c["name"] == "default-route" && c["status"] == "FAIL" && strings.Contains(c["fix"].(string), "dummy0") {
			found = true
		}
		if c["status"] == "PASS" && c["fix"] != nil {
			t.Errorf("PASS row %v carries a fix key", c["name"])
		}
	}
	if !found {
		t.Errorf("no FAIL default-route row with the dummy0 fix in %s", b)
	}
}

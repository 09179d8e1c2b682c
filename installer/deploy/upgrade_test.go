package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/manifests"
)

// faultFile, when it exists in a host's root, makes the k3s stand-in of
// the upgraded bundle (whose unit reads it) start but never become Ready:
// a fault of one node and one bundle only, so the rollback to the old
// bundle comes back Ready.
const faultFile = "/etc/ferry-test-fault"

func faultyUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "manifests", "templates", manifests.UnitTemplate))
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.Replace(string(b), "[Service]\n", "[Service]\nEnvironmentFile=-"+faultFile+"\n", 1)
	if unit == string(b) {
		t.Fatal("the unit template has no [Service] section")
	}
	return unit
}

func installedVersion(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/lib/ferry/state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Bundle struct{ Version string }
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bundle.Version
}

// testUpgrade rolls 1.5.0 out to the cluster deployed from 1.4.0 with the
// second server made to fail Ready: it rolls itself back to 1.4.0, the
// agents after it are untouched, the error names it and the resume
// command; once the fault is cleared, the resume finishes the rest and
// leaves the first server alone.
func testUpgrade(t *testing.T, cluster, dir string, servers, agents []testHost) {
	ctx := context.Background()
	newBundle, _ := testBundle(t, dir, "1.5.0", map[string]string{manifests.UnitTemplate: faultyUnit(t)})
	hosts := append(append([]testHost{}, servers...), agents...)
	os.WriteFile(filepath.Join(servers[1].root, faultFile), []byte("K3S_STANDIN_FAIL=ready\n"), 0o644)
	agentState := map[string][]byte{}
	for _, a := range agents {
		agentState[a.name], _ = os.ReadFile(filepath.Join(a.root, "var/lib/ferry/state.json"))
	}

	opts := testOptions(t, cluster)
	opts.Bundle, opts.ReadyTimeout = newBundle, 8*time.Second
	res, err := Upgrade(ctx, opts)
	var he *HostsError
	var ue *UpgradeError
	if !errors.As(err, &he) || !errors.As(err, &ue) || ue.Host != servers[1].name || len(he.Failed) != 1 {
		t.Fatalf("err = %v, want %s's upgrade failure", err, servers[1].name)
	}
	if !strings.Contains(ue.RolledBackTo, "factory-edge 1.4.0") || !strings.Contains(err.Error(), "resume with:") ||
		!strings.Contains(ue.Resume, "ferry-install deploy upgrade -f "+cluster+" --bundle "+newBundle) {
		t.Errorf("the error does not say what %s runs now and how to resume: %v", servers[1].name, err)
	}
	if v := installedVersion(t, servers[0].root); v != "1.5.0" {
		t.Errorf("%s runs %s, want 1.5.0", servers[0].name, v)
	}
	if v := installedVersion(t, servers[1].root); v != "1.4.0" {
		t.Errorf("%s runs %s, want 1.4.0 after its rollback", servers[1].name, v)
	}
	for i, a := range agents {
		if b, _ := os.ReadFile(filepath.Join(a.root, "var/lib/ferry/state.json")); !bytes.Equal(b, agentState[a.name]) {
			t.Errorf("%s's install changed after the rollout stopped", a.name)
		}
		if o := res.Hosts[len(servers)+i].Outcome; o != "not started" {
			t.Errorf("%s: outcome %q", a.name, o)
		}
	}

	os.Remove(filepath.Join(servers[1].root, faultFile))
	res, err = Upgrade(ctx, opts)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	for i, h := range hosts {
		if v := installedVersion(t, h.root); v != "1.5.0" {
			t.Errorf("%s runs %s after the resume", h.name, v)
		}
		want := map[bool]string{true: "unchanged", false: "upgraded"}[i == 0]
		if res.Hosts[i].Outcome != want {
			t.Errorf("%s: outcome %q, want %q", h.name, res.Hosts[i].Outcome, want)
		}
	}
	// One at a time: the second server started only after the first was
	// done (first run), the agents only after the second (resume).
	if a, b := when(t, cluster, servers[0].name, "step start: upgrade server"), when(t, cluster, servers[1].name, "step start: upgrade server"); !b.After(a) {
		t.Errorf("%s's upgrade started at %s, before %s's at %s", servers[1].name, b, servers[0].name, a)
	}
	var srv1Done time.Time
	for _, e := range events(t, cluster, servers[0].name) {
		if strings.HasPrefix(e.msg, "step done after") && strings.Contains(e.msg, "upgrade server") {
			srv1Done = e.at
		}
	}
	if b := when(t, cluster, servers[1].name, "step start: upgrade server"); srv1Done.IsZero() || !b.After(srv1Done) {
		t.Errorf("%s's upgrade started at %s, before %s was back Ready at %s", servers[1].name, b, servers[0].name, srv1Done)
	}
	srv2 := events(t, cluster, servers[1].name)
	var lastSrv2Done time.Time
	for _, e := range srv2 {
		if strings.HasPrefix(e.msg, "step done after") && strings.Contains(e.msg, "upgrade server") {
			lastSrv2Done = e.at
		}
	}
	for _, a := range agents {
		var start time.Time
		for _, e := range events(t, cluster, a.name) {
			if strings.Contains(e.msg, "step start: upgrade agent") {
				start = e.at
			}
		}
		if lastSrv2Done.IsZero() || !start.After(lastSrv2Done) {
			t.Errorf("%s's upgrade started at %s, not after %s was done at %s", a.name, start, servers[1].name, lastSrv2Done)
		}
	}
}

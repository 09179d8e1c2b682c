package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/installer/preflight"
)

// testOptions are deploy options for a test cluster file.
func testOptions(t *testing.T, cluster string) Options {
	t.Helper()
	fi, _ := bins(t)
	c, err := LoadCluster(cluster)
	if err != nil {
		t.Fatal(err)
	}
	return Options{Cluster: c, Installer: fi, ReadyTimeout: 30 * time.Second, InstallTimeout: 2 * time.Minute, Log: testWriter{t}}
}

// testWriter logs through t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// events reads HOST.log's event lines (time, message).
func events(t *testing.T, cluster, host string) []logEvent {
	t.Helper()
	f, err := os.Open(filepath.Join(LogDir(cluster), host+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ts, msg, ok := strings.Cut(sc.Text(), " == ")
		if !ok {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000000Z", ts)
		if err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, logEvent{at, msg})
	}
	return out
}

type logEvent struct {
	at  time.Time
	msg string
}

// when is the time of the first event of host containing s.
func when(t *testing.T, cluster, host, s string) time.Time {
	t.Helper()
	for _, e := range events(t, cluster, host) {
		if strings.Contains(e.msg, s) {
			return e.at
		}
	}
	t.Fatalf("%s.log has no event containing %q", host, s)
	return time.Time{}
}

// TestDeployEndToEnd deploys 2 servers and 2 agents over a real sshd, each
// host a root of this machine, with the real ferry-install and the k3s
// stand-in (not real k3s) run by the exec service manager: the HA order
// from the hosts' logs, the token only in 0600 files, a rerun that sends
// no bytes, status and uninstall.
func TestDeployEndToEnd(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t, "FERRY_SERVICE_MANAGER=exec")
	dir := t.TempDir()
	bp, key := testBundle(t, dir, "1.4.0", nil)
	servers := []testHost{{"srv-1", hostRoot(t, nil)}, {"srv-2", hostRoot(t, nil)}}
	agents := []testHost{{"agt-1", hostRoot(t, nil)}, {"agt-2", hostRoot(t, nil)}}
	cluster := writeCluster(t, dir, s, bp, key, servers, agents)
	ctx := context.Background()

	res, err := Deploy(ctx, testOptions(t, cluster))
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	tokenFile := filepath.Join(dir, "plant-7.token")
	if res.TokenCreated != tokenFile || fileMode(t, tokenFile) != 0o600 {
		t.Errorf("token file %q, mode %v", res.TokenCreated, fileMode(t, tokenFile))
	}
	token, _ := os.ReadFile(tokenFile)
	for _, hr := range res.Hosts {
		if hr.Outcome != "installed" || hr.BytesSent == 0 {
			t.Errorf("%s: %+v", hr.Name, hr)
		}
	}
	// HA order, from the hosts' own logs.
	srv1Ready := when(t, cluster, "srv-1", "node Ready")
	srv2Start := when(t, cluster, "srv-2", "step start: install server")
	srv2Ready := when(t, cluster, "srv-2", "node Ready")
	if !srv2Start.After(srv1Ready) {
		t.Errorf("srv-2 started installing at %s, before srv-1 was Ready at %s", srv2Start, srv1Ready)
	}
	for _, a := range agents {
		if at := when(t, cluster, a.name, "step start: install agent"); !at.After(srv2Ready) {
			t.Errorf("%s started at %s, before srv-2 was Ready at %s", a.name, at, srv2Ready)
		}
	}
	// Each host's own ferry-install placed the install; the token is only
	// in 0600 files, never in a log.
	for i, h := range append(append([]testHost{}, servers...), agents...) {
		b, err := os.ReadFile(filepath.Join(h.root, "var/lib/ferry/state.json"))
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		role := map[bool]string{true: `"role": "server"`, false: `"role": "agent"`}[i < 2]
		if !bytes.Contains(b, []byte(role)) {
			t.Errorf("%s: state.json lacks %s", h.name, role)
		}
		if i == 0 && !bytes.Contains(b, []byte(`"clusterInit": true`)) {
			t.Errorf("srv-1 was not installed with --cluster-init:\n%s", b)
		}
		if _, err := os.Stat(filepath.Join(h.root, DefaultWorkDir, tokenName)); !os.IsNotExist(err) {
			t.Errorf("%s: the staged token was not removed: %v", h.name, err)
		}
		log, _ := os.ReadFile(filepath.Join(LogDir(cluster), h.name+".log"))
		if bytes.Contains(log, bytes.TrimSpace(token)) {
			t.Errorf("%s.log holds the token", h.name)
		}
		env, _ := filepath.Glob(filepath.Join(h.root, "etc/systemd/system/k3s*.service.env"))
		if len(env) != 1 || fileMode(t, env[0]) != 0o600 {
			t.Errorf("%s: env files %v", h.name, env)
		}
	}

	t.Run("rerun sends no bytes", func(t *testing.T) {
		before := snapshot(t, servers[0].root)
		res, err := Deploy(ctx, testOptions(t, cluster))
		if err != nil {
			t.Fatalf("rerun: %v", err)
		}
		for _, hr := range res.Hosts {
			if hr.Outcome != "unchanged" || hr.BytesSent != 0 {
				t.Errorf("%s: %+v, want unchanged with 0 bytes sent", hr.Name, hr)
			}
		}
		if d := diff(before, snapshot(t, servers[0].root)); len(d) > 0 {
			t.Errorf("the rerun changed srv-1:\n%s", strings.Join(d, "\n"))
		}
	})

	t.Run("status", func(t *testing.T) {
		st, err := Status(ctx, testOptions(t, cluster))
		if err != nil {
			t.Fatal(err)
		}
		var table bytes.Buffer
		if err := st.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		out := table.String()
		for _, want := range []string{"HOST", "srv-1", "agt-2", "factory-edge 1.4.0", "server", "agent", "yes"} {
			if !strings.Contains(out, want) {
				t.Errorf("status table lacks %q:\n%s", want, out)
			}
		}
		for _, h := range st.Hosts {
			if !h.Reachable || !h.Ready || h.Version != "1.4.0" {
				t.Errorf("%s: %+v", h.Name, h)
			}
		}
	})

	t.Run("rolling upgrade", func(t *testing.T) { testUpgrade(t, cluster, dir, servers, agents) })

	t.Run("uninstall", func(t *testing.T) {
		if _, err := Uninstall(ctx, testOptions(t, cluster)); err != nil {
			t.Fatal(err)
		}
		for _, h := range append(append([]testHost{}, servers...), agents...) {
			for _, p := range []string{"var/lib/ferry/state.json", "usr/local/bin/k3s", DefaultWorkDir} {
				if _, err := os.Stat(filepath.Join(h.root, p)); !os.IsNotExist(err) {
					t.Errorf("%s: %s is still there: %v", h.name, p, err)
				}
			}
			if pids, _ := filepath.Glob(filepath.Join(h.root, "run/ferry-exec/*.pid")); len(pids) > 0 {
				t.Errorf("%s: k3s still runs: %v", h.name, pids)
			}
		}
	})
}

// TestDeployPreflightFailure checks that one host failing preflight
// changes no host: not even the staged ferry-install stays.
func TestDeployPreflightFailure(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t, "FERRY_SERVICE_MANAGER=exec")
	dir := t.TempDir()
	bp, key := testBundle(t, dir, "1.4.0", nil)
	good, bad := hostRoot(t, nil), hostRoot(t, map[string]string{"etc/hostname": "localhost\n"})
	cluster := writeCluster(t, dir, s, bp, key, []testHost{{"srv-1", good}}, []testHost{{"agt-1", bad}})
	before := map[string]map[string]string{good: snapshot(t, good), bad: snapshot(t, bad)}
	opts := testOptions(t, cluster)
	events := make(chan Event)
	opts.Events = events
	var seen []Event
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for e := range events {
			seen = append(seen, e)
		}
	}()
	res, err := Deploy(context.Background(), opts)
	close(events)
	<-collected
	failedEvent := false
	for _, e := range seen {
		if e.Host == "agt-1" && e.State == "failed" && strings.HasPrefix(e.Step, "preflight") && strings.Contains(e.Err, "hostname") {
			failedEvent = true
		}
	}
	if !failedEvent {
		t.Errorf("no failed preflight event for agt-1 in %+v", seen)
	}
	var he *HostsError
	if !errors.As(err, &he) || len(he.Failed) != 1 || he.Failed[0] != "agt-1" || !errors.Is(err, preflight.ErrPreflight) || !strings.Contains(err.Error(), "hostname") {
		t.Fatalf("err = %v, want agt-1's preflight failure naming hostname", err)
	}
	for root, snap := range before {
		if d := diff(snap, snapshot(t, root)); len(d) > 0 {
			t.Errorf("a failed preflight changed %s:\n%s", root, strings.Join(d, "\n"))
		}
	}
	if res.Hosts[0].Outcome != "not started" || res.Hosts[1].Outcome != "failed" {
		t.Errorf("outcomes: %+v", res.Hosts)
	}
}

// TestDeploySplitBundle deploys a single server (a plain SQLite server: no
// --cluster-init) from a bundle split into parts: every part, the signed
// index and the signatures are copied and the host's ferry-install reads
// the parts in place.
func TestDeploySplitBundle(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t, "FERRY_SERVICE_MANAGER=exec")
	dir := t.TempDir()
	part, key := writeTestBundle(t, dir, "1.4.0", nil, 1<<20)
	root := hostRoot(t, nil)
	cluster := writeCluster(t, dir, s, part, key, []testHost{{"srv-1", root}}, nil)
	if _, err := Deploy(context.Background(), testOptions(t, cluster)); err != nil {
		t.Fatal(err)
	}
	local, err := bundleFileNames(part)
	if err != nil || len(local) < 5 {
		t.Fatalf("bundle files %v %v", local, err)
	}
	for _, f := range local {
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join(root, DefaultWorkDir, filepath.Base(f)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on the host: %v", filepath.Base(f), err)
		}
	}
	st, _ := os.ReadFile(filepath.Join(root, "var/lib/ferry/state.json"))
	if !bytes.Contains(st, []byte(`"role": "server"`)) || bytes.Contains(st, []byte("clusterInit")) {
		t.Errorf("not a plain single server:\n%s", st)
	}
}

package installer

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestInstallWithoutNetwork runs the real ferry-install in a network
// namespace of its own (unshare -n: no interface but a down loopback) and
// expects the same tree as an install with the network.
func TestInstallWithoutNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-install; skipped under -short")
	}
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace here (unshare -n needs root and util-linux): %v %s", err, out)
	}
	bin := buildInstaller(t)
	bp := writeBundle(t, bundleOptions{})
	online, offline := t.TempDir(), t.TempDir()
	if out, err := exec.Command(bin, serverArgs(t, online, bp)...).CombinedOutput(); err != nil {
		t.Fatalf("install with the network: %v\n%s", err, out)
	}
	out, err := exec.Command("unshare", append([]string{"-n", "--", bin}, serverArgs(t, offline, bp)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("install without a network: %v\n%s", err, out)
	}
	if d := diffSnapshots(stable(snapshot(t, online)), stable(snapshot(t, offline))); d != "" {
		t.Fatalf("the offline install differs:\n%s", d)
	}
	if !strings.Contains(string(out), "installed factory-edge 1.4.0") {
		t.Errorf("output does not report the install:\n%s", out)
	}
}

// TestNoDialDuringInstall replaces every dialer the Go standard library
// would use on the installer's behalf (the resolver's, HTTP's default
// transport's) with ones that record and fail, runs a whole install in
// process, and expects no call. It changes process-wide defaults, so it
// restores them and must not run in parallel.
func TestNoDialDuringInstall(t *testing.T) {
	var mu sync.Mutex
	var dialed []string
	refuse := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, network+" "+addr)
		mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.ErrPermission}
	}
	tr := http.DefaultTransport.(*http.Transport)
	oldDial, oldResolver := tr.DialContext, net.DefaultResolver
	tr.DialContext = refuse
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: refuse}
	t.Cleanup(func() { tr.DialContext, net.DefaultResolver = oldDial, oldResolver })

	// The hooks are live: a lookup and a request through the defaults
	// reach them.
	net.DefaultResolver.LookupHost(context.Background(), "ferry.invalid")
	if resp, err := http.Get("http://127.0.0.1:1/"); err == nil {
		resp.Body.Close()
	}
	mu.Lock()
	probes := len(dialed)
	dialed = nil
	mu.Unlock()
	if probes < 2 {
		t.Fatalf("the hooks saw %d dials from 2 probes: they are not in the path", probes)
	}

	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server"}})
	root := t.TempDir()
	if _, err := installInto(t, root, bp, nil); err != nil {
		t.Fatal(err)
	}
	lh, _ := NewLocalHost(root)
	if _, err := Uninstall(context.Background(), UninstallOptions{RunOptions: RunOptions{Host: lh}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 0 {
		t.Fatalf("install and uninstall dialed %v", dialed)
	}
}

// TestNoSocketsDuringInstall traces the real ferry-install's socket calls:
// an install makes no Internet socket and connects nowhere (a netlink
// socket to list the host's interfaces is allowed).
func TestNoSocketsDuringInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-install and runs it under strace; skipped under -short")
	}
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is not installed (Debian package strace)")
	}
	bin := buildInstaller(t)
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	log := filepath.Join(t.TempDir(), "strace.log")
	args := append([]string{"-f", "-q", "-o", log, "-e", "trace=socket,connect,sendto,sendmsg,bind", bin}, serverArgs(t, root, bp)...)
	if out, err := exec.Command("strace", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot trace ferry-install here (ptrace refused?): %v\n%s", err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/ferry/state.json")); err != nil {
		t.Fatalf("the traced install did not complete: %v", err)
	}
	if !strings.Contains(string(b), "+++ exited with 0 +++") {
		t.Fatalf("the trace does not cover the install:\n%s", b)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "connect(") || strings.Contains(line, "AF_INET") || strings.Contains(line, "AF_UNIX") {
			t.Errorf("network call during the install: %s", line)
		}
	}
}

// TestInstallerLinksNoHTTPClient lists ferry-install's dependency graph: no
// package of this module imports net/http, and the two places that
// import net read interface addresses (installer) and speak SSH to the
// hosts a cluster file names (installer/deploy, SPEC §8). net/http is still linked through
// k8s.io/apimachinery (types only); the traces above show it is never
// used to connect.
func TestInstallerLinksNoHTTPClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped under -short")
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}", "./cmd/ferry-install")
	cmd.Dir = filepath.Dir(filepath.Dir(file))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var viaOthers []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "|")
		ours := strings.HasPrefix(pkg, "github.com/ferry-k3s/ferry")
		for _, imp := range strings.Fields(imports) {
			switch {
			case ours && (imp == "net/http" || imp == "net/rpc" || imp == "crypto/tls" || imp == "net/smtp"):
				t.Errorf("%s imports %s: the installer must not carry network clients", pkg, imp)
			case ours && imp == "net" && pkg != "github.com/ferry-k3s/ferry/installer" && pkg != "github.com/ferry-k3s/ferry/installer/deploy":
				t.Errorf("%s imports net: only the installer's address lookup, and deploy's SSH to the hosts its cluster file names, may", pkg)
			case !ours && imp == "net/http":
				viaOthers = append(viaOthers, pkg)
			}
		}
	}
	t.Logf("net/http is linked only through: %v", viaOthers)
}

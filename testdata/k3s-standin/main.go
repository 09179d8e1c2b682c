// README: k3s-standin is a stand-in for k3s used only by tests. It is never
// shipped: it plays k3s's part on a host (files, sd_notify, kubectl answers)
// without running Kubernetes, so that installer tests run in seconds.
//
// Command k3s-standin is a multicall binary like k3s: the command is
// argv[0]'s base name (kubectl, crictl, ctr) or the first argument
// (server, agent, kubectl, crictl, ctr, --version).
//
//   - server / agent read /etc/rancher/k3s/config.yaml (top-level scalar
//     keys: data-dir, node-name, token, server) and K3S_TOKEN / K3S_URL from
//     the environment. A server writes <data-dir>/server/node-token
//     (generating a token when none is given) and /etc/rancher/k3s/k3s.yaml.
//     Both then send READY=1 to $NOTIFY_SOCKET when it is set, write
//     <data-dir>/standin/ready (role and node name), log to stderr and run
//     until SIGTERM or SIGINT, when they remove the ready file.
//   - kubectl get nodes -o json prints a v1 NodeList with this node
//     Ready=True when the ready file exists, Ready=False otherwise;
//     kubectl get pods -n kube-system -o json prints Running pods when
//     ready, Pending ones otherwise.
//   - --version prints "k3s version <version> (stand-in)"; set the version
//     with -ldflags "-X main.version=v1.2.3+k3s1".
//
// Fault injection: the file <data-dir>/standin/fail-ready or
// K3S_STANDIN_FAIL=ready makes it start but never become ready;
// K3S_STANDIN_FAIL=start makes it exit 1 at once. K3S_STANDIN_ROOT=DIR
// prefixes every absolute path it reads or writes with DIR (for --root
// tests). It never opens a network connection; $NOTIFY_SOCKET is a local
// unix datagram socket.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// version is the k3s version the stand-in claims to be.
var version = "v1.31.4+k3s1"

const (
	configPath     = "/etc/rancher/k3s/config.yaml"
	kubeconfigPath = "/etc/rancher/k3s/k3s.yaml"
	defaultDataDir = "/var/lib/rancher/k3s"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr *os.File) int {
	cmd, rest := command(args)
	env := loadEnv()
	var err error
	switch cmd {
	case "server", "agent":
		err = serve(env, cmd, stderr)
	case "kubectl":
		err = kubectl(env, rest, stdout)
	case "crictl", "ctr":
		fmt.Fprintf(stdout, "%s (k3s stand-in): nothing to show\n", cmd)
	case "--version", "-v", "version":
		fmt.Fprintf(stdout, "k3s version %s (stand-in)\ngo version %s\n", version, "stand-in")
	default:
		err = fmt.Errorf("unknown command %q: use server, agent, kubectl, crictl, ctr or --version", cmd)
	}
	if err != nil {
		fmt.Fprintln(stderr, "k3s-standin:", err)
		return 1
	}
	return 0
}

// command picks the subcommand from argv[0] or the first argument.
func command(args []string) (string, []string) {
	switch base := filepath.Base(args[0]); base {
	case "kubectl", "crictl", "ctr":
		return base, args[1:]
	}
	if len(args) < 2 {
		return "", nil
	}
	return args[1], args[2:]
}

// standinEnv is what the stand-in learns from its environment and config.
type standinEnv struct {
	root     string
	dataDir  string
	nodeName string
	token    string
	server   string
	fail     string
}

// path maps an absolute host path into K3S_STANDIN_ROOT.
func (e *standinEnv) path(p string) string {
	if e.root == "" {
		return p
	}
	return filepath.Join(e.root, p)
}

func (e *standinEnv) readyFile() string { return e.path(filepath.Join(e.dataDir, "standin", "ready")) }
func (e *standinEnv) failReadyFile() string {
	return e.path(filepath.Join(e.dataDir, "standin", "fail-ready"))
}

func loadEnv() *standinEnv {
	e := &standinEnv{root: os.Getenv("K3S_STANDIN_ROOT"), fail: os.Getenv("K3S_STANDIN_FAIL")}
	if e.root == "/" {
		e.root = ""
	}
	cfg := readConfig(e.path(configPath))
	e.dataDir = first(cfg["data-dir"], defaultDataDir)
	host, _ := os.Hostname()
	e.nodeName = strings.ToLower(first(cfg["node-name"], os.Getenv("K3S_NODE_NAME"), host))
	e.token = first(os.Getenv("K3S_TOKEN"), cfg["token"])
	e.server = first(os.Getenv("K3S_URL"), cfg["server"])
	return e
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// readConfig reads the top-level scalar keys of a k3s config.yaml; lists
// and maps are skipped, which is all the stand-in needs.
func readConfig(path string) map[string]string {
	cfg := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return cfg
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		cfg[strings.TrimSpace(k)] = strings.Trim(v, `"'`)
	}
	return cfg
}

func serve(e *standinEnv, role string, log *os.File) error {
	if e.fail == "start" {
		return errors.New("K3S_STANDIN_FAIL=start: failing at start as asked")
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(log, "%s level=info msg=%q\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, a...))
	}
	logf("Starting k3s %s %s (stand-in) node=%s data-dir=%s", role, version, e.nodeName, e.dataDir)
	if role == "agent" {
		if e.server == "" {
			return errors.New("agent: --server (K3S_URL) is required")
		}
		if e.token == "" {
			return errors.New("agent: --token (K3S_TOKEN) is required")
		}
		logf("agent would join %s (the stand-in does not dial)", e.server)
	} else if err := writeServerFiles(e); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if e.fail == "ready" || exists(e.failReadyFile()) {
		logf("fault injection: never becoming ready")
	} else {
		if err := writeFile(e.readyFile(), []byte(role+" "+e.nodeName+"\n"), 0o644); err != nil {
			return err
		}
		if err := notify("READY=1"); err != nil {
			logf("sd_notify: %v", err)
		}
		logf("k3s %s is up and running (stand-in)", role)
	}
	s := <-sigs
	logf("received %s, shutting down", s)
	if err := os.Remove(e.readyFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	_ = notify("STOPPING=1")
	return nil
}

func writeServerFiles(e *standinEnv) error {
	token := e.token
	if token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		token = hex.EncodeToString(b)
	}
	if !strings.HasPrefix(token, "K10") {
		token = "K10" + strings.Repeat("0", 64) + "::server:" + token
	}
	if err := writeFile(e.path(filepath.Join(e.dataDir, "server", "node-token")), []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    token: stand-in
`
	return writeFile(e.path(kubeconfigPath), []byte(kubeconfig), 0o600)
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// notify sends one sd_notify datagram, as libsystemd's sd_notify does.
func notify(state string) error {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("dial NOTIFY_SOCKET %s: %w", sock, err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

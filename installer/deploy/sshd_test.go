package deploy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is a real OpenSSH server the test started on 127.0.0.1, with a
// host key and an authorized client key made for the test.
type testSSHD struct {
	Port       int
	HostKey    ssh.PublicKey
	ClientKey  string // private key file (OpenSSH PEM) the server accepts
	KnownHosts string // a known_hosts file holding HostKey
	Dir        string
}

// needSSHD skips unless the test can run sshd: root and OpenSSH present.
func needSSHD(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sshd runs as root and deploy installs into roots as root")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("needs OpenSSH's sshd at %s (apt-get install openssh-server): %v", sshdPath, err)
	}
}

// writeKey writes a new ed25519 private key in OpenSSH PEM and returns
// its public key.
func writeKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd -D on a free loopback port; env is set for every
// session (SetEnv). It is stopped when the test ends.
func startSSHD(t *testing.T, env ...string) *testSSHD {
	t.Helper()
	needSSHD(t)
	dir := t.TempDir()
	s := &testSSHD{Dir: dir, ClientKey: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	s.HostKey = writeKey(t, filepath.Join(dir, "host_ed25519"))
	client := writeKey(t, s.ClientKey)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd refuses to start without its privilege separation directory.
	if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
		if err := os.Mkdir("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove("/run/sshd") })
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s.Port = freePort(t)
		cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding yes
MaxSessions 64
MaxStartups 64
LogLevel VERBOSE
`, s.Port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
		if len(env) > 0 {
			cfg += "SetEnv " + strings.Join(env, " ") + "\n"
		}
		conf := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, "sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("start sshd: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(exited) }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		if lastErr = waitListening(s.Port, exited); lastErr == nil {
			line := knownhosts.Line([]string{knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(s.Port))}, s.HostKey)
			if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return s
		}
		cmd.Process.Kill()
	}
	log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
	t.Fatalf("sshd did not start: %v\n%s", lastErr, log)
	return nil
}

// waitListening waits (at most 10s) until the port accepts connections.
func waitListening(port int, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited")
		default:
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("port %d not listening after 10s", port)
}

// endpoint is an Endpoint for s as root with its client key.
func (s *testSSHD) endpoint() Endpoint {
	return Endpoint{Host: "127.0.0.1", Port: s.Port, User: "root", IdentityFile: s.ClientKey, KnownHosts: s.KnownHosts}
}

func dialTest(t *testing.T, d *Dialer, e Endpoint) (*Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, e)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

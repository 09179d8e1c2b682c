package deploy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestHostKeys(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	fp := ssh.FingerprintSHA256(s.HostKey)

	t.Run("unknown refused with its fingerprint", func(t *testing.T) {
		e := s.endpoint()
		e.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
		_, err := dialTest(t, &Dialer{}, e)
		var ue *UnknownHostKeyError
		if !errors.As(err, &ue) || ue.Fingerprint != fp || !strings.Contains(err.Error(), fp) || !strings.Contains(err.Error(), "--accept-new-host-keys") {
			t.Fatalf("err = %v, want an unknown host key error naming %s", err, fp)
		}
		if _, err := os.Stat(e.KnownHosts); !os.IsNotExist(err) {
			t.Errorf("a refused key was recorded: %v", err)
		}
	})
	t.Run("accept-new records it", func(t *testing.T) {
		e := s.endpoint()
		e.KnownHosts = filepath.Join(t.TempDir(), "sub", "known_hosts")
		if _, err := dialTest(t, &Dialer{AcceptNewHostKeys: true}, e); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(e.KnownHosts)
		if err != nil || !bytes.Contains(b, []byte("[127.0.0.1]:")) || !bytes.Contains(b, bytes.TrimSpace(ssh.MarshalAuthorizedKey(s.HostKey))) {
			t.Fatalf("known_hosts after accept-new: %q %v", b, err)
		}
		if _, err := dialTest(t, &Dialer{}, e); err != nil {
			t.Fatalf("the recorded key is not accepted: %v", err)
		}
	})
	t.Run("changed key refused even with accept-new", func(t *testing.T) {
		e := s.endpoint()
		other := writeKey(t, filepath.Join(t.TempDir(), "other"))
		e.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
		line := "[127.0.0.1]:" + strconv.Itoa(s.Port) + " " + string(ssh.MarshalAuthorizedKey(other))
		os.WriteFile(e.KnownHosts, []byte(line), 0o600)
		_, err := dialTest(t, &Dialer{AcceptNewHostKeys: true}, e)
		var me *HostKeyMismatchError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), "HAS CHANGED") {
			t.Fatalf("err = %v, want a mismatch", err)
		}
	})
}

// TestAgentAndJump authenticates through a real ssh-agent socket (an
// in-process keyring served on a unix socket) and reaches the host through
// a jump host (the same sshd, via direct-tcpip).
func TestAgentAndJump(t *testing.T) {
	s := startSSHD(t)
	b, err := os.ReadFile(s.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(kr, c); c.Close() }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	e := s.endpoint()
	e.IdentityFile = ""
	e.Jump = &target{User: "root", Host: "127.0.0.1", Port: s.Port}
	d := &Dialer{}
	defer d.Close()
	c, err := dialTest(t, d, e)
	if err != nil {
		t.Fatal(err)
	}
	if c.jump == nil {
		t.Fatal("no jump connection")
	}
	out, err := c.Output(context.Background(), command{Line: "echo $SSH_CONNECTION"}, nil)
	if err != nil || !strings.HasPrefix(string(out), "127.0.0.1 ") {
		t.Fatalf("through the jump host: %q %v", out, err)
	}
}

func TestRun(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	c, err := dialTest(t, &Dialer{}, s.endpoint())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := c.Output(ctx, command{Line: "cat; echo done", Stdin: strings.NewReader("in\n")}, nil)
	if err != nil || string(out) != "in\ndone\n" {
		t.Fatalf("stdin: %q %v", out, err)
	}
	err = c.Run(ctx, command{Line: "echo why >&2; exit 3"}, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Status != 3 || !strings.Contains(re.Error(), "why") {
		t.Fatalf("exit 3: %v", err)
	}
	start := time.Now()
	err = c.Run(ctx, command{Line: "sleep 30", Timeout: 300 * time.Millisecond}, nil)
	if !errors.As(err, &re) || re.Status != -1 || time.Since(start) > 10*time.Second {
		t.Fatalf("timeout: %v after %s", err, time.Since(start))
	}
}

func TestShellLine(t *testing.T) {
	if got := shellLine("root", "a 'b'"); got != "a 'b'" {
		t.Errorf("root: %s", got)
	}
	if got := shellLine("ops", "cat > '/x y'"); got != `sudo -n -- sh -c 'cat > '\''/x y'\'''` {
		t.Errorf("ops: %s", got)
	}
	if got := shellJoin("a", "b c", "", "it's"); got != `a 'b c' '' 'it'\''s'` {
		t.Errorf("join: %s", got)
	}
}

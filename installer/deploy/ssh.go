package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/ferry-k3s/ferry/internal/smallfile"
)

// DefaultConnectTimeout bounds the TCP connect and SSH handshake of one
// host (10s).
const DefaultConnectTimeout = 10 * time.Second

// Endpoint is one host's SSH settings with every default applied.
type Endpoint struct {
	Host         string // address
	Port         int
	User         string
	IdentityFile string // "" for the ssh-agent only
	KnownHosts   string
	Jump         *target
}

// describe says how the host is reached, for a dry run.
func (e Endpoint) describe() string {
	s := fmt.Sprintf("ssh %s@%s port %d, host key checked against %s", e.User, e.Host, e.Port, e.KnownHosts)
	if e.Jump != nil {
		s += fmt.Sprintf(", through %s@%s", e.Jump.User, e.Jump.addr())
	}
	if e.User != "root" {
		s += "; commands run through sudo -n"
	}
	return s
}

// endpoint merges n's ssh over the cluster's and the built-in defaults.
func (c *Cluster) endpoint(n Node) (Endpoint, error) {
	pick := func(a, b, def string) string {
		switch {
		case a != "":
			return a
		case b != "":
			return b
		}
		return def
	}
	s, d := n.SSH, c.SSH
	e := Endpoint{
		Host:         n.Address,
		User:         pick(s.User, d.User, "root"),
		IdentityFile: c.resolve(pick(s.IdentityFile, d.IdentityFile, "")),
		KnownHosts:   c.resolve(pick(s.KnownHosts, d.KnownHosts, "~/.ssh/known_hosts")),
		Port:         22,
	}
	if d.Port != 0 {
		e.Port = d.Port
	}
	if s.Port != 0 {
		e.Port = s.Port
	}
	if j := pick(s.JumpHost, d.JumpHost, ""); j != "" {
		t, err := parseJumpHost(j)
		if err != nil {
			return e, fmt.Errorf("%s: jumpHost: %w", n.ID(), err)
		}
		if t.User == "" {
			t.User = e.User
		}
		e.Jump = &t
	}
	return e, nil
}

// Dialer opens SSH connections with checked host keys.
type Dialer struct {
	// AcceptNewHostKeys records the key of a host that known_hosts has no
	// line for, instead of refusing it. A changed key is always refused.
	AcceptNewHostKeys bool
	// Timeout bounds connect and handshake per hop (default
	// DefaultConnectTimeout).
	Timeout time.Duration

	once     sync.Once
	known    *knownHostsFiles
	agentErr error
	agent    agent.ExtendedAgent
	agentCon net.Conn
}

func (d *Dialer) init() {
	d.once.Do(func() {
		d.known = &knownHostsFiles{acceptNew: d.AcceptNewHostKeys}
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			c, err := net.Dial("unix", sock)
			if err != nil {
				d.agentErr = fmt.Errorf("ssh-agent at $SSH_AUTH_SOCK: %w", err)
				return
			}
			d.agentCon, d.agent = c, agent.NewClient(c)
		}
	})
}

// Close releases the ssh-agent connection.
func (d *Dialer) Close() error {
	if d.agentCon != nil {
		return d.agentCon.Close()
	}
	return nil
}

// auth returns the methods for e: its identity file, then the agent.
func (d *Dialer) auth(e Endpoint) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if e.IdentityFile != "" {
		b, err := smallfile.Read(e.IdentityFile, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("read identity file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("identity file %s is protected by a passphrase: add it to ssh-agent (ssh-add %s) and leave identityFile out", e.IdentityFile, e.IdentityFile)
		}
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", e.IdentityFile, err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if d.agent != nil {
		methods = append(methods, ssh.PublicKeysCallback(d.agent.Signers))
	}
	if len(methods) == 0 {
		if d.agentErr != nil {
			return nil, d.agentErr
		}
		return nil, errors.New("no SSH key: set ssh.identityFile in the cluster file, or start ssh-agent and ssh-add a key")
	}
	return methods, nil
}

func (d *Dialer) config(e Endpoint, user, addr string) (*ssh.ClientConfig, error) {
	methods, err := d.auth(e)
	if err != nil {
		return nil, err
	}
	kh := d.known.get(e.KnownHosts)
	return &ssh.ClientConfig{
		User:              user,
		Auth:              methods,
		HostKeyCallback:   kh.callback(),
		HostKeyAlgorithms: kh.algorithms(addr),
		Timeout:           d.timeout(),
	}, nil
}

func (d *Dialer) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultConnectTimeout
}

// Dial connects to e (through its jump host when set), checking every host
// key. The connection is bounded by the dialer's timeout and ctx.
func (d *Dialer) Dial(ctx context.Context, e Endpoint) (*Conn, error) {
	d.init()
	addr := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	cfg, err := d.config(e, e.User, addr)
	if err != nil {
		return nil, err
	}
	if e.Jump == nil {
		nc, err := (&net.Dialer{Timeout: d.timeout()}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		cl, err := d.handshake(ctx, nc, addr, cfg)
		if err != nil {
			return nil, err
		}
		return newConn(cl, nil, e.User), nil
	}
	jaddr := e.Jump.addr()
	jcfg, err := d.config(e, e.Jump.User, jaddr)
	if err != nil {
		return nil, err
	}
	jnc, err := (&net.Dialer{Timeout: d.timeout()}).DialContext(ctx, "tcp", jaddr)
	if err != nil {
		return nil, fmt.Errorf("connect to jump host %s: %w", jaddr, err)
	}
	jump, err := d.handshake(ctx, jnc, jaddr, jcfg)
	if err != nil {
		return nil, fmt.Errorf("jump host: %w", err)
	}
	nc, err := dialThrough(ctx, jump, addr, d.timeout())
	if err != nil {
		jump.Close()
		return nil, fmt.Errorf("connect to %s through jump host %s: %w", addr, jaddr, err)
	}
	cl, err := d.handshake(ctx, nc, addr, cfg)
	if err != nil {
		jump.Close()
		return nil, err
	}
	return newConn(cl, jump, e.User), nil
}

// handshake runs the SSH handshake over nc within the timeout.
func (d *Dialer) handshake(ctx context.Context, nc net.Conn, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	deadline := time.Now().Add(d.timeout())
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("ssh %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

func dialThrough(ctx context.Context, jump *ssh.Client, addr string, timeout time.Duration) (net.Conn, error) {
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := jump.Dial("tcp", addr)
		ch <- res{c, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-t.C:
		return nil, fmt.Errorf("timed out after %s", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Conn is an SSH connection to one host.
type Conn struct {
	client *ssh.Client
	jump   *ssh.Client
	user   string
	stop   chan struct{}
}

// KeepAliveInterval is how often an idle-looking connection is probed
// (30s): a long install must not lose its connection to a NAT or firewall
// idle timeout, and a dead host must not hang a command until its
// timeout. Three unanswered probes in a row close the connection.
const KeepAliveInterval = 30 * time.Second

func newConn(client, jump *ssh.Client, user string) *Conn {
	c := &Conn{client: client, jump: jump, user: user, stop: make(chan struct{})}
	go c.keepAlive()
	return c
}

func (c *Conn) keepAlive() {
	t := time.NewTicker(KeepAliveInterval)
	defer t.Stop()
	missed := 0
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err != nil {
				return // the connection is gone; commands on it fail
			}
			missed = 0
		case <-time.After(KeepAliveInterval):
			if missed++; missed >= 3 {
				c.client.Close()
				return
			}
		case <-c.stop:
			return
		}
	}
}

// Close closes the connection and the jump host's.
func (c *Conn) Close() error {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	err := c.client.Close()
	if c.jump != nil {
		err = errors.Join(err, c.jump.Close())
	}
	return err
}

// RemoteError is a command that failed on a host.
type RemoteError struct {
	Command string
	// Status is the exit status; -1 when the command did not finish (cut
	// by a timeout, a signal or a lost connection).
	Status int
	// Stderr holds the last lines the command wrote on stderr.
	Stderr string
	Err    error
}

func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("%s: exit status %d", e.Command, e.Status)
	if e.Status < 0 {
		msg = fmt.Sprintf("%s: %v", e.Command, e.Err)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *RemoteError) Unwrap() error { return e.Err }

// command is one command for a host: a shell command line (quoted with
// shellQuote) and its input.
type command struct {
	Line    string
	Stdin   io.Reader
	Stdout  io.Writer // nil discards
	Timeout time.Duration
	// Secret hides Stdin from the log and dry run (it is the token).
	Secret bool
}

// shellLine returns the line as it runs for user: through sudo -n for
// anyone but root, so a user without passwordless sudo fails at once.
func shellLine(user, line string) string {
	if user == "root" {
		return line
	}
	return "sudo -n -- sh -c " + shellQuote(line)
}

// bounded makes the host itself end line after d (TERM, then KILL 10s
// later) with coreutils' timeout, so a command cut by the timeout does not
// run on.
func bounded(line string, d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	return fmt.Sprintf("timeout -k 10 %d sh -c %s", secs, shellQuote(line))
}

// Run runs cmd on the host, bounded by its timeout (default 2 minutes) and
// ctx; stderr is copied to log and its tail kept for the error.
func (c *Conn) Run(ctx context.Context, cmd command, log io.Writer) error {
	if cmd.Timeout <= 0 {
		cmd.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, cmd.Timeout)
	defer cancel()
	s, err := c.client.NewSession()
	if err != nil {
		return &RemoteError{Command: cmd.Line, Status: -1, Err: fmt.Errorf("open SSH session: %w", err)}
	}
	defer s.Close()
	tail := &tailBuffer{max: 4 << 10}
	if log == nil {
		log = io.Discard
	}
	s.Stderr = io.MultiWriter(log, tail)
	s.Stdout = cmd.Stdout
	if s.Stdout == nil {
		s.Stdout = log
	}
	s.Stdin = cmd.Stdin
	if err := s.Start(shellLine(c.user, bounded(cmd.Line, cmd.Timeout))); err != nil {
		return &RemoteError{Command: cmd.Line, Status: -1, Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The host's timeout(1) ends the command; closing the session
		// only stops waiting for it.
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		err = fmt.Errorf("cut after %s: %w", cmd.Timeout, ctx.Err())
	}
	if err == nil {
		return nil
	}
	re := &RemoteError{Command: cmd.Line, Status: -1, Stderr: tail.String(), Err: err}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		re.Status = ee.ExitStatus()
	}
	return re
}

// Output runs cmd and returns its stdout (at most 16 MiB).
func (c *Conn) Output(ctx context.Context, cmd command, log io.Writer) ([]byte, error) {
	var out limitedBuffer
	out.max = 16 << 20
	cmd.Stdout = &out
	err := c.Run(ctx, cmd, log)
	return out.Bytes(), err
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// limitedBuffer is a bytes.Buffer that refuses to grow past max.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		return 0, fmt.Errorf("more than %d bytes of output", l.max)
	}
	return l.Buffer.Write(p)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellJoin quotes each word and joins them.
func shellJoin(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

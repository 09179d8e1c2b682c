package deploy

import (
	"context"
	"fmt"
	"path"
	"sync/atomic"
	"time"

	"github.com/ferry-k3s/ferry/manifests"
)

// DefaultWorkDir is where deploy stages its files on a host, below the
// host's root.
const DefaultWorkDir = "/var/lib/ferry-deploy"

// Host is one host of the cluster during a run: its place in the cluster,
// its connection, its log and what the run found and sent there.
type Host struct {
	ID       string
	Node     Node
	Role     manifests.Role
	First    bool // the first server
	Endpoint Endpoint
	// WorkDir is the deploy directory on the host.
	WorkDir string

	dialer *Dialer
	conn   *Conn
	log    *hostLog
	sent   atomic.Int64

	// For progress events: the step running (one at a time per host).
	events       eventSink
	step         string
	lastProgress atomic.Int64 // unix nanoseconds

	// Set by the probe.
	arch   string
	remote *remoteState
	done   bool // already installed from this bundle with these settings
	// missingTop is the outermost directory of WorkDir that did not exist
	// when the host was read ("" when WorkDir existed).
	missingTop string
	finished   bool // the run's last step for this host succeeded
}

func newHost(c *Cluster, n Node, role manifests.Role, first bool) (*Host, error) {
	e, err := c.endpoint(n)
	if err != nil {
		return nil, err
	}
	wd := n.WorkDir
	if wd == "" {
		wd = path.Join("/", n.Root, DefaultWorkDir)
	}
	return &Host{ID: n.ID(), Node: n, Role: role, First: first, Endpoint: e, WorkDir: wd}, nil
}

// hosts returns the cluster's hosts in HA order: servers as listed (the
// first is the first server), then agents.
func (c *Cluster) hosts() ([]*Host, error) {
	var hs []*Host
	for i, n := range c.Servers {
		h, err := newHost(c, n, manifests.RoleServer, i == 0)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	for _, n := range c.Agents {
		h, err := newHost(c, n, manifests.RoleAgent, false)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// BytesSent is how many bytes of files and secrets were streamed to the
// host (command lines not counted).
func (h *Host) BytesSent() int64 { return h.sent.Load() }

func (h *Host) id() string {
	if h == nil {
		return ""
	}
	return h.ID
}

// logf logs an event to the host's log and the console.
func (h *Host) logf(format string, args ...any) {
	if h == nil || h.log == nil {
		return
	}
	h.log.event(fmt.Sprintf(format, args...), true)
}

// detailf logs an event to the host's log only.
func (h *Host) detailf(format string, args ...any) {
	if h == nil || h.log == nil {
		return
	}
	h.log.event(fmt.Sprintf(format, args...), false)
}

// path is p inside the work directory.
func (h *Host) path(p string) string { return path.Join(h.WorkDir, p) }

// bin is the staged ferry-install.
func (h *Host) bin() string { return h.path("ferry-install") }

// rootArgs is --root for a host with an alternate root.
func (h *Host) rootArgs() []string {
	if h.Node.Root == "" {
		return nil
	}
	return []string{"--root", h.Node.Root}
}

// connect dials the host once; later calls reuse the connection.
func (h *Host) connect(ctx context.Context) error {
	if h.conn != nil {
		return nil
	}
	h.detailf("connect to %s@%s:%d", h.Endpoint.User, h.Endpoint.Host, h.Endpoint.Port)
	c, err := h.dialer.Dial(ctx, h.Endpoint)
	if err != nil {
		return err
	}
	h.conn = c
	return nil
}

// run runs cmd on the host, logging it (never its Secret input).
func (h *Host) run(ctx context.Context, cmd command) error {
	if err := h.connect(ctx); err != nil {
		return err
	}
	h.detailf("run: %s", cmd.Line)
	start := time.Now()
	err := h.conn.Run(ctx, cmd, h.log)
	if err != nil {
		h.detailf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	return err
}

// output runs cmd and returns its stdout (also logged).
func (h *Host) output(ctx context.Context, cmd command) ([]byte, error) {
	if err := h.connect(ctx); err != nil {
		return nil, err
	}
	h.detailf("run: %s", cmd.Line)
	out, err := h.conn.Output(ctx, cmd, h.log)
	if len(out) > 0 {
		_, _ = h.log.Write(out)
		if out[len(out)-1] != '\n' {
			_, _ = h.log.Write([]byte("\n"))
		}
	}
	if err != nil {
		h.detailf("failed: %v", err)
	}
	return out, err
}

// close ends the connection and the log.
func (h *Host) close() {
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
	if h.log != nil {
		h.log.Close()
	}
}

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of WaitOptions.
const (
	DefaultWaitTimeout = 5 * time.Minute
	DefaultWaitPoll    = 2 * time.Second
	// agentStablePolls is how many polls in a row an agent's unit must be
	// active before it counts as up: an agent has no kubeconfig, and a
	// crash-looping agent is active for a moment between restarts.
	agentStablePolls = 3
	// logLines is how many lines of the k3s log a WaitError carries.
	logLines = 20
	// maxCommandTime bounds one kubectl call.
	maxCommandTime = 30 * time.Second
)

// WaitOptions says what WaitReady waits for.
type WaitOptions struct {
	// Root is the system root k3s runs in (default "/"). The bundled
	// <root>/usr/local/bin/k3s is queried; for a Root other than "/" it runs
	// with K3S_STANDIN_ROOT=Root, which only the test stand-in honours.
	Root string
	// Role is "server" (default) or "agent".
	Role string
	// Unit is the service name (default "k3s" for servers, "k3s-agent"
	// for agents).
	Unit string
	// NodeName is the node to wait for (default: node-name from
	// <root>/etc/rancher/k3s/config.yaml, else the lower-cased host name,
	// as k3s chooses it).
	NodeName string
	// Manager is the init system k3s runs under. Required for agents
	// (their readiness is the unit staying active); for servers it adds
	// the unit's state to progress and errors. Logs come from journalctl
	// when it is systemd on "/", else from <root>/var/log/UNIT.log.
	Manager Manager
	// Runner runs k3s kubectl and journalctl (default LocalRunner).
	Runner Runner
	// Timeout bounds the whole wait (default 5m).
	Timeout time.Duration
	// Poll is the time between checks (default 2s).
	Poll time.Duration
	// Progress, when not nil, receives an event after every check. Sends
	// block until received or the wait ends; the channel is not closed.
	Progress chan<- WaitProgress
}

// WaitProgress is one observation of a node coming up.
type WaitProgress struct {
	// Stage is "api" (the API server does not answer yet), "node" (the
	// node is not Ready), "pods" (kube-system pods not all running),
	// "service" (an agent's unit is not yet steadily active) or "ready".
	Stage string
	// Message says what was seen, for people.
	Message string
	// NodeReady reports the node's Ready condition (servers).
	NodeReady bool
	// PodsRunning and PodsTotal count kube-system pods (servers).
	PodsRunning, PodsTotal int
	// Elapsed is the time since the wait began.
	Elapsed time.Duration
}

// WaitError reports a node that did not become ready in time.
type WaitError struct {
	Role    string
	Unit    string
	Timeout time.Duration
	// Last is the last observation (why it was not ready).
	Last string
	// LogSource names where Log came from (a journalctl command or a file).
	LogSource string
	// Log holds up to the last 20 lines of k3s's log.
	Log []string
}

func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "k3s %s not ready after %s: %s", e.Role, e.Timeout, e.Last)
	if len(e.Log) > 0 {
		fmt.Fprintf(&b, "\nlast %d lines of %s:", len(e.Log), e.LogSource)
		for _, l := range e.Log {
			b.WriteString("\n  " + l)
		}
	}
	fmt.Fprintf(&b, "\ncheck: the log (journalctl -u %s -f, or /var/log/%s.log without systemd); "+
		"ports 6443, 10250 and 8472/udp free and open in the firewall; "+
		"a default route (k3s needs one to pick a node IP; on an isolated host add a dummy interface with a default route)", e.Unit, e.Unit)
	return b.String()
}

// WaitReady waits until k3s on this host is up: for a server, until
// `k3s kubectl get nodes` shows this node Ready and every kube-system pod
// (at least one) is Running or Succeeded; for an agent, which has no
// kubeconfig, until its unit has been active for three polls in a row.
// On timeout it returns a *WaitError carrying the last 20 log lines and
// what to check; when ctx ends first it returns ctx's error.
func WaitReady(ctx context.Context, opts WaitOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	stable := 0
	last := ""
	for {
		var p WaitProgress
		if o.Role == "agent" {
			p, stable = o.checkAgent(wctx, stable)
		} else {
			p = o.checkServer(wctx)
		}
		p.Elapsed = time.Since(start)
		if p.Stage == "ready" {
			o.send(wctx, p)
			return nil
		}
		// A check cut short by the deadline says nothing new about k3s.
		if wctx.Err() == nil || last == "" {
			last = p.Message
			o.send(wctx, p)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("wait for k3s %s: %w", o.Role, ctx.Err())
			}
			return o.timeoutError(ctx, last)
		case <-time.After(o.Poll):
		}
	}
}

func (o WaitOptions) withDefaults() (WaitOptions, error) {
	o.Root = cleanRoot(o.Root)
	switch o.Role {
	case "":
		o.Role = "server"
	case "server", "agent":
	default:
		return o, fmt.Errorf("wait for k3s: role %q: use server or agent", o.Role)
	}
	if o.Unit == "" {
		o.Unit = "k3s"
		if o.Role == "agent" {
			o.Unit = "k3s-agent"
		}
	}
	o.Unit = serviceName(o.Unit)
	if o.Role == "agent" && o.Manager == nil {
		return o, errors.New("wait for k3s agent: no service manager given: an agent is watched through its unit")
	}
	if o.NodeName == "" {
		o.NodeName = nodeName(o.Root)
	}
	if o.Runner == nil {
		r := LocalRunner{}
		if o.Root != "/" {
			r.Env = append(os.Environ(), "K3S_STANDIN_ROOT="+o.Root)
		}
		o.Runner = r
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultWaitTimeout
	}
	if o.Poll <= 0 {
		o.Poll = DefaultWaitPoll
	}
	return o, nil
}

func (o WaitOptions) send(ctx context.Context, p WaitProgress) {
	if o.Progress == nil {
		return
	}
	select {
	case o.Progress <- p:
	case <-ctx.Done():
	}
}

func (o WaitOptions) checkAgent(ctx context.Context, stable int) (WaitProgress, int) {
	active, err := o.Manager.IsActive(ctx, o.Unit)
	switch {
	case err != nil:
		return WaitProgress{Stage: "service", Message: err.Error()}, 0
	case !active:
		return WaitProgress{Stage: "service", Message: fmt.Sprintf("%s is not active", o.Unit)}, 0
	case stable+1 >= agentStablePolls:
		return WaitProgress{Stage: "ready", Message: fmt.Sprintf("%s is active", o.Unit)}, stable + 1
	}
	return WaitProgress{Stage: "service", Message: fmt.Sprintf("%s is active (%d of %d checks)", o.Unit, stable+1, agentStablePolls)}, stable + 1
}

func (o WaitOptions) checkServer(ctx context.Context) WaitProgress {
	out, err := o.kubectl(ctx, "get", "nodes", "-o", "json")
	if err != nil {
		return WaitProgress{Stage: "api", Message: o.withUnitState(ctx, "API server not answering: "+firstLine(err.Error()))}
	}
	ready, why, err := nodeReady(out, o.NodeName)
	if err != nil {
		return WaitProgress{Stage: "api", Message: err.Error()}
	}
	if !ready {
		return WaitProgress{Stage: "node", Message: o.withUnitState(ctx, why)}
	}
	out, err = o.kubectl(ctx, "get", "pods", "-n", "kube-system", "-o", "json")
	if err != nil {
		return WaitProgress{Stage: "pods", NodeReady: true, Message: "list kube-system pods: " + firstLine(err.Error())}
	}
	done, total, waiting, err := podsRunning(out)
	p := WaitProgress{Stage: "pods", NodeReady: true, PodsRunning: done, PodsTotal: total}
	switch {
	case err != nil:
		p.Message = err.Error()
	case total == 0:
		p.Message = "no kube-system pods yet"
	case done < total:
		p.Message = fmt.Sprintf("%d of %d kube-system pods running; waiting for %s", done, total, strings.Join(waiting, ", "))
	default:
		p.Stage = "ready"
		p.Message = fmt.Sprintf("node %s Ready, %d kube-system pods running", o.NodeName, total)
	}
	return p
}

func (o WaitOptions) kubectl(ctx context.Context, args ...string) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, maxCommandTime)
	defer cancel()
	k3s, err := localInRoot(o.Root, "/usr/local/bin/k3s")
	if err != nil {
		return nil, err
	}
	return o.Runner.Run(cctx, k3s, append([]string{"kubectl"}, args...)...)
}

// withUnitState adds "(k3s is not active)" when the manager says so.
func (o WaitOptions) withUnitState(ctx context.Context, msg string) string {
	if o.Manager == nil {
		return msg
	}
	if active, err := o.Manager.IsActive(ctx, o.Unit); err == nil && !active {
		return msg + " (" + o.Unit + " is not active)"
	}
	return msg
}

func (o WaitOptions) timeoutError(ctx context.Context, last string) error {
	e := &WaitError{Role: o.Role, Unit: o.Unit, Timeout: o.Timeout, Last: last}
	if o.Manager != nil && o.Manager.Name() == "systemd" && o.Root == "/" {
		e.LogSource = "journalctl -u " + o.Unit
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		out, err := o.Runner.Run(lctx, "journalctl", "-u", o.Unit, "-n", fmt.Sprint(logLines), "--no-pager")
		if err == nil {
			e.Log = strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		}
		return e
	}
	e.LogSource = filepath.Join(o.Root, "var/log", o.Unit+".log")
	e.Log = tailInRoot(o.Root, "/var/log/"+o.Unit+".log", logLines)
	return e
}

// nodeName is the name k3s gives this node: node-name from config.yaml,
// else the lower-cased host name.
func nodeName(root string) string {
	if b, err := readInRoot(root, "/etc/rancher/k3s/config.yaml"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "node-name:"); ok {
				if v = strings.Trim(strings.TrimSpace(v), `"'`); v != "" {
					return v
				}
			}
		}
	}
	host, _ := os.Hostname()
	return strings.ToLower(host)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/installer"
	"github.com/ferry-k3s/ferry/installer/preflight"
)

// deployedFile is the record, in the host's work directory, of what
// deploy last installed there and with which settings.
const deployedFile = "deployed.json"

// deployedRecord is deployed.json.
type deployedRecord struct {
	// Settings is the sha256 of everything that decides the install: the
	// bundle's manifest, the ferry-install command line, the k3s config,
	// the site values files and the token.
	Settings       string    `json:"settings"`
	Bundle         string    `json:"bundle"`
	Version        string    `json:"version"`
	ManifestSHA256 string    `json:"manifestSHA256"`
	At             time.Time `json:"at"`
}

// remoteState is what a host holds: ferry's install (from the host's own
// ferry-install status --json) and deploy's record.
type remoteState struct {
	HasInstaller bool
	Status       *installer.Status
	Deployed     *deployedRecord
}

// statusCommand is the host's ferry-install status --json.
func (h *Host) statusCommand() string {
	return shellJoin(append([]string{h.bin(), "status", "--json"}, h.rootArgs()...)...)
}

// readRemote reads the host's state. A host without the staged
// ferry-install has nothing from deploy.
func readRemote(ctx context.Context, h *Host) (*remoteState, error) {
	rs := &remoteState{}
	// top is the outermost directory of the work directory that does not
	// exist: what undoing the staging removes.
	out, err := h.output(ctx, command{Line: fmt.Sprintf(`uname -m; d=%s; top=; while [ ! -d "$d" ]; do top="$d"; d=$(dirname "$d"); done; echo "top=$top"; if [ -x %s ]; then echo bin; fi; cat %s 2>/dev/null || true`,
		shellQuote(h.WorkDir), shellQuote(h.bin()), shellQuote(h.path(deployedFile)))})
	if err != nil {
		return nil, fmt.Errorf("read the work directory %s: %w", h.WorkDir, err)
	}
	machine, rest, _ := strings.Cut(string(out), "\n")
	h.arch = goArch(strings.TrimSpace(machine))
	first, s, _ := strings.Cut(rest, "\n")
	top, ok := strings.CutPrefix(first, "top=")
	if !ok {
		return nil, fmt.Errorf("read the work directory %s: unexpected answer %q", h.WorkDir, first)
	}
	h.missingTop = top
	if rest, ok := strings.CutPrefix(s, "bin\n"); ok {
		rs.HasInstaller, s = true, rest
	}
	if strings.TrimSpace(s) != "" {
		var d deployedRecord
		if err := json.Unmarshal([]byte(s), &d); err == nil {
			rs.Deployed = &d
		} else {
			h.logf("ignoring a damaged %s: %v", deployedFile, err)
		}
	}
	if !rs.HasInstaller {
		return rs, nil
	}
	st, err := remoteStatus(ctx, h)
	if err != nil {
		return nil, err
	}
	rs.Status = st
	return rs, nil
}

// remoteStatus runs the host's ferry-install status --json.
func remoteStatus(ctx context.Context, h *Host) (*installer.Status, error) {
	out, err := h.output(ctx, command{Line: h.statusCommand(), Timeout: time.Minute})
	if err != nil {
		return nil, fmt.Errorf("ferry-install status: %w", err)
	}
	var st installer.Status
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("ferry-install status --json printed no JSON: %w", err)
	}
	return &st, nil
}

// waitReady polls the host's status until the node is Ready, for at most
// timeout.
func waitReady(ctx context.Context, h *Host, timeout time.Duration) (*installer.Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		st, err := remoteStatus(ctx, h)
		if err == nil && st.Installed && st.NodeReady {
			h.logf("node Ready")
			return st, nil
		}
		if time.Now().After(deadline) {
			switch {
			case err != nil:
				return nil, fmt.Errorf("node not Ready after %s: %w", timeout, err)
			case !st.Installed:
				return st, fmt.Errorf("node not Ready after %s: nothing is installed", timeout)
			}
			return st, fmt.Errorf("node not Ready after %s: %s", timeout, st.NodeMessage)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// runPreflight runs the host's own preflight and returns an error wrapping
// preflight.ErrPreflight naming the failed checks and their fixes.
func runPreflight(ctx context.Context, h *Host, line string) error {
	out, err := h.output(ctx, command{Line: line, Timeout: 2 * time.Minute})
	var rep preflight.Report
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		if err != nil {
			return err
		}
		return fmt.Errorf("preflight printed no JSON report: %w", jerr)
	}
	if !rep.Failed() {
		return nil
	}
	var b strings.Builder
	for _, c := range rep.Checks {
		if c.Status == preflight.StatusFail {
			fmt.Fprintf(&b, "\n  FAIL %s: %s", c.Name, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(&b, " (fix: %s)", strings.ReplaceAll(c.Fix, "\n", "; "))
			}
		}
	}
	return fmt.Errorf("%w: %s%s", preflight.ErrPreflight, strings.Join(rep.FailedNames(), ", "), b.String())
}

package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-k3s/ferry/installer/service"
)

// StatusOptions say where to look. Host is required.
type StatusOptions struct {
	Host Host
	// Manager reports the service's state; nil leaves it unknown and skips
	// the readiness check.
	Manager service.Manager
	// ReadyTimeout bounds the node readiness check (default 5s).
	ReadyTimeout time.Duration
}

// Status is what ferry installed on a host and how it runs.
type Status struct {
	// Installed is false when there is no state.json; nothing else is set.
	Installed   bool          `json:"installed"`
	Bundle      *BundleRecord `json:"bundle,omitempty"`
	InstalledAt *time.Time    `json:"installedAt,omitempty"`
	Role        string        `json:"role,omitempty"`
	Arch        string        `json:"arch,omitempty"`
	// K3sVersion is what the installed binary reports (k3s --version);
	// K3sVersionError says why it could not be read.
	K3sVersion      string         `json:"k3sVersion,omitempty"`
	K3sVersionError string         `json:"k3sVersionError,omitempty"`
	Service         *ServiceStatus `json:"service,omitempty"`
	// NodeReady is the node's readiness (servers: Ready and kube-system
	// pods running; agents: the unit steadily active); NodeMessage says
	// what was seen.
	NodeReady   bool   `json:"nodeReady"`
	NodeMessage string `json:"nodeMessage,omitempty"`
	// Previous is the install kept for rollback, nil when none is.
	Previous *PreviousStatus `json:"previous,omitempty"`
	// Interrupted lists staging directories of runs that did not finish;
	// the next install, upgrade, rollback or uninstall reverts them. While
	// a run holds the root (RunningPID) they are its own and not listed.
	Interrupted []string `json:"interrupted,omitempty"`
	// RunningPID is the process that holds the root's lock (a run in
	// progress); 0 when none does.
	RunningPID int `json:"runningPID,omitempty"`
}

// ServiceStatus is the k3s service's state.
type ServiceStatus struct {
	Name    string `json:"name"`
	Init    string `json:"init"`
	Manager string `json:"manager,omitempty"`
	// Active and Enabled are nil when unknown (no manager).
	Active  *bool `json:"active,omitempty"`
	Enabled *bool `json:"enabled,omitempty"`
}

// PreviousStatus is the install kept for rollback.
type PreviousStatus struct {
	Bundle      BundleRecord `json:"bundle"`
	InstalledAt time.Time    `json:"installedAt"`
}

// ReadStatus reports the host's install. It changes nothing: an
// interrupted run is listed, not reverted.
func ReadStatus(ctx context.Context, opts StatusOptions) (*Status, error) {
	h := opts.Host
	if h == nil {
		return nil, errors.New("status: a host is required")
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 5 * time.Second
	}
	s := &Status{}
	if l, ok := h.(interface {
		LockHolder(context.Context, string) (int, bool)
	}); ok {
		if pid, held := l.LockHolder(ctx, LockFile); held {
			s.RunningPID = max(pid, 1)
		}
	}
	if ents, err := h.ReadDir(ctx, FerryDir); err == nil && s.RunningPID == 0 {
		for _, e := range ents {
			if e.IsDir() && strings.HasPrefix(e.Name(), stagingPrefix) {
				s.Interrupted = append(s.Interrupted, FerryDir+"/"+e.Name())
			}
		}
	}
	st, err := ReadState(ctx, h)
	if errors.Is(err, ErrNotInstalled) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	at := st.InstalledAt
	s.Installed, s.Bundle, s.InstalledAt, s.Role, s.Arch = true, &st.Bundle, &at, string(st.Role), st.Arch
	if st.Previous != nil {
		s.Previous = &PreviousStatus{Bundle: st.Previous.Bundle, InstalledAt: st.Previous.InstalledAt}
	}
	s.K3sVersion, err = k3sVersion(ctx, h)
	if err != nil {
		s.K3sVersionError = err.Error()
	}
	s.Service = &ServiceStatus{Name: st.Service.Name, Init: st.Service.Init}
	active := true
	if m := opts.Manager; m != nil {
		s.Service.Manager = m.Name()
		if a, err := m.IsActive(ctx, st.Service.Name); err == nil {
			s.Service.Active, active = &a, a
		}
		if e, err := m.IsEnabled(ctx, st.Service.Name); err == nil {
			s.Service.Enabled = &e
		}
	}
	switch {
	case opts.Manager == nil:
		s.NodeMessage = "unknown: no service manager to ask"
	case !active:
		s.NodeMessage = st.Service.Name + " is not active"
	default:
		err := service.WaitReady(ctx, service.WaitOptions{Root: h.Root(), Role: string(st.Role), Unit: st.Service.Name,
			Manager: opts.Manager, Timeout: opts.ReadyTimeout, Poll: 500 * time.Millisecond})
		var we *service.WaitError
		switch {
		case err == nil:
			s.NodeReady, s.NodeMessage = true, "Ready"
		case errors.As(err, &we):
			s.NodeMessage = we.Last
		default:
			s.NodeMessage = err.Error()
		}
	}
	return s, nil
}

// k3sVersion runs the installed k3s --version and returns the version
// from its first line ("k3s version v1.31.4+k3s1 (abc123)").
func k3sVersion(ctx context.Context, h Host) (string, error) {
	bin := K3sBinary
	if l, ok := h.(interface{ Resolve(string) (string, error) }); ok {
		// The binary a link in the root leads to, inside the root.
		local, err := l.Resolve(K3sBinary)
		if err != nil {
			return "", fmt.Errorf("%s --version: %w", K3sBinary, err)
		}
		bin = local
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := h.Run(cctx, bin, "--version")
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", K3sBinary, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	f := strings.Fields(line)
	if len(f) < 3 || f[1] != "version" {
		return "", fmt.Errorf("%s --version printed %q, not \"k3s version vX.Y.Z+k3sN\"", K3sBinary, line)
	}
	return f[2], nil
}

// WriteText prints s for people.
func (s *Status) WriteText(w io.Writer) error {
	if s.RunningPID != 0 {
		fmt.Fprintf(w, "run in progress:   pid %d holds %s (what follows may change when it ends)\n", s.RunningPID, LockFile)
	}
	if !s.Installed {
		fmt.Fprintln(w, "ferry has not installed k3s here")
		for _, d := range s.Interrupted {
			fmt.Fprintf(w, "interrupted run:   %s (the next ferry-install run reverts it)\n", d)
		}
		return nil
	}
	b := s.Bundle
	fmt.Fprintf(w, "bundle:            %s %s\n", b.Name, b.Version)
	fmt.Fprintf(w, "bundle digest:     sha256:%s (bundle.json)\n", b.ManifestSHA256)
	fmt.Fprintf(w, "signer key id:     %s\n", orPlaceholder(b.KeyID, "(unsigned: installed without a signature check)"))
	fmt.Fprintf(w, "installed at:      %s\n", s.InstalledAt.Format(time.RFC3339))
	fmt.Fprintf(w, "role:              %s (%s)\n", s.Role, s.Arch)
	fmt.Fprintf(w, "k3s version:       %s\n", orPlaceholder(s.K3sVersion, "unknown: "+s.K3sVersionError))
	svc := s.Service
	fmt.Fprintf(w, "service:           %s (%s): %s, %s\n", svc.Name, svc.Init, tri(svc.Active, "active", "inactive"), tri(svc.Enabled, "enabled", "disabled"))
	fmt.Fprintf(w, "node:              %s\n", map[bool]string{true: "Ready", false: "not ready: " + s.NodeMessage}[s.NodeReady])
	if p := s.Previous; p != nil {
		fmt.Fprintf(w, "previous install:  %s %s (ferry-install rollback returns to it)\n", p.Bundle.Name, p.Bundle.Version)
	} else {
		fmt.Fprintln(w, "previous install:  none kept")
	}
	for _, d := range s.Interrupted {
		fmt.Fprintf(w, "interrupted run:   %s (the next ferry-install run reverts it)\n", d)
	}
	return nil
}

func tri(b *bool, yes, no string) string {
	switch {
	case b == nil:
		return "unknown"
	case *b:
		return yes
	}
	return no
}

func orPlaceholder(s, p string) string {
	if s == "" {
		return p
	}
	return s
}

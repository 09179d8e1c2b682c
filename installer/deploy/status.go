package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"text/tabwriter"
)

// HostStatus is one row of deploy status.
type HostStatus struct {
	Name      string `json:"name"`
	Address   string `json:"address"`
	Role      string `json:"role"` // in the cluster file
	Reachable bool   `json:"reachable"`
	// Installed is what the host's ferry-install status reports.
	Installed bool   `json:"installed"`
	Bundle    string `json:"bundle,omitempty"`
	Version   string `json:"version,omitempty"`
	// InstalledRole is the role ferry installed there.
	InstalledRole string `json:"installedRole,omitempty"`
	Service       string `json:"service,omitempty"` // "k3s.service active"
	Ready         bool   `json:"ready"`
	Message       string `json:"message,omitempty"`
	Error         string `json:"error,omitempty"`
}

// ClusterStatus is deploy status: one row per host, in plan order.
type ClusterStatus struct {
	Hosts []HostStatus `json:"hosts"`
}

// Status asks every host (in parallel, reading only) for its own
// ferry-install status. Hosts that cannot be reached or asked are in the
// table and in the returned *HostsError.
func Status(ctx context.Context, opts Options) (*ClusterStatus, error) {
	r, err := newRun(opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	cs := &ClusterStatus{Hosts: make([]HostStatus, len(r.hosts))}
	var wg sync.WaitGroup
	errs := make([]error, len(r.hosts))
	for i, h := range r.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs.Hosts[i], errs[i] = hostStatus(ctx, h)
		}()
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, r.hosts[i].ID)
			errs[i] = &StepError{Host: r.hosts[i].ID, Title: "status", Err: err}
		}
	}
	if len(failed) > 0 {
		return cs, &HostsError{Failed: failed, Err: errors.Join(errs...)}
	}
	return cs, nil
}

func hostStatus(ctx context.Context, h *Host) (HostStatus, error) {
	hs := HostStatus{Name: h.ID, Address: h.Node.Address, Role: string(h.Role)}
	if err := h.connect(ctx); err != nil {
		hs.Error = err.Error()
		return hs, err
	}
	hs.Reachable = true
	rs, err := readRemote(ctx, h)
	if err != nil {
		hs.Error = err.Error()
		return hs, err
	}
	if !rs.HasInstaller {
		hs.Message = "nothing from deploy here"
		return hs, nil
	}
	st := rs.Status
	hs.Installed, hs.Ready, hs.Message = st.Installed, st.NodeReady, st.NodeMessage
	if st.Bundle != nil {
		hs.Bundle, hs.Version = st.Bundle.Name, st.Bundle.Version
	}
	hs.InstalledRole = st.Role
	if s := st.Service; s != nil {
		hs.Service = s.Name + " " + tri(s.Active, "active", "inactive")
	}
	if !st.Installed {
		hs.Message = "ferry has not installed k3s here"
	}
	return hs, nil
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteTable prints the status for people.
func (cs *ClusterStatus) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLE\tREACHABLE\tBUNDLE\tSERVICE\tREADY\tNOTE")
	for _, h := range cs.Hosts {
		b := "-"
		if h.Installed {
			b = h.Bundle + " " + h.Version
		}
		note := h.Message
		if h.Error != "" {
			note = h.Error
		}
		if h.Ready {
			note = ""
		}
		if h.InstalledRole != "" && h.InstalledRole != h.Role {
			note = "installed as " + h.InstalledRole + "; " + note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Address, h.Role, yesNo(h.Reachable), b,
			orDash(h.Service), yesNo(h.Ready), note)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

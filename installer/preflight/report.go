package preflight

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is the outcome of one check.
type Status string

// Statuses of a check: a FAIL stops the install, a WARN is printed and the
// install goes on.
const (
	StatusPass Status = "PASS"
	StatusWarn Status = "WARN"
	StatusFail Status = "FAIL"
)

// Check is one row of the report.
type Check struct {
	// Name identifies the check; stable across releases so scripts and
	// Options.Skip can match on it: os-release, cpu, memory, disk, ports,
	// swap, firewall, time-sync, hostname, default-route, nameservers,
	// kernel-modules, cgroups, selinux, existing-k3s, longhorn.
	Name string `json:"name"`
	// Status is PASS, WARN or FAIL.
	Status Status `json:"status"`
	// Detail says what was found.
	Detail string `json:"detail"`
	// Fix says what to do about a WARN or FAIL; one command or step per
	// line. Empty for a PASS.
	Fix string `json:"fix,omitempty"`
}

// Report is the result of Run: one Check per check, in a fixed order.
type Report struct {
	Checks []Check `json:"checks"`
	// SELinux is true when SELinux enforces on the host: the installer then
	// sets selinux: true in config.yaml.
	SELinux bool `json:"selinux"`
}

// Failed reports whether any check has status FAIL.
func (r *Report) Failed() bool { return len(r.FailedNames()) > 0 }

// FailedNames returns the names of the checks with status FAIL, in report
// order.
func (r *Report) FailedNames() []string {
	var names []string
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			names = append(names, c.Name)
		}
	}
	return names
}

// Err returns nil when no check failed, else ErrPreflight wrapped with the
// names of the failing checks.
func (r *Report) Err() error {
	names := r.FailedNames()
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s (fix them, or pass --skip-preflight to install anyway)", ErrPreflight, strings.Join(names, ", "))
}

// Check returns the check named name, or false.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// WriteTable writes the report as an aligned text table with the columns
// STATUS, CHECK, DETAIL and FIX. A fix of several lines continues on the
// following rows under FIX.
func (r *Report) WriteTable(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tDETAIL\tFIX")
	for _, c := range r.Checks {
		fix := strings.Split(c.Fix, "\n")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Status, c.Name, oneLine(c.Detail), fix[0])
		for _, line := range fix[1:] {
			fmt.Fprintf(tw, "\t\t\t%s\n", line)
		}
	}
	tw.Flush()
	// tabwriter pads every cell but the last; an empty FIX leaves trailing
	// blanks.
	var out strings.Builder
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		out.WriteString(strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	if _, err := io.WriteString(w, out.String()); err != nil {
		return fmt.Errorf("write preflight table: %w", err)
	}
	return nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func pass(format string, args ...any) Check {
	return Check{Status: StatusPass, Detail: fmt.Sprintf(format, args...)}
}

func warn(format string, args ...any) Check {
	return Check{Status: StatusWarn, Detail: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) Check {
	return Check{Status: StatusFail, Detail: fmt.Sprintf(format, args...)}
}

// withFix returns c with the fix lines joined by newlines.
func (c Check) withFix(lines ...string) Check {
	c.Fix = strings.Join(lines, "\n")
	return c
}

// mib formats a byte count in MiB, or GiB from 10 GiB up.
func mib(n int64) string {
	if n >= 10<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

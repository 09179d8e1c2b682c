package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrOfflineRoot is returned when an action needs a running init system but
// the Manager works on an alternate root (a disk image being prepared),
// where there is none: install with --no-start there.
var ErrOfflineRoot = errors.New("cannot start services in an alternate root: use --no-start, the unit is enabled and starts at first boot")

// Systemd drives systemd through systemctl.
//
// For Root "/" (or "") every method runs systemctl against the running
// systemd. For any other Root only the offline operations make sense:
// Enable, Disable and IsEnabled run `systemctl --root=DIR ...`, which
// edits the image's .wants symlinks; DaemonReload and Stop do nothing
// (nothing runs in an image), IsActive reports false, and Start returns
// ErrOfflineRoot.
type Systemd struct {
	// Root is the system root (default "/").
	Root string
	// Runner runs systemctl (default LocalRunner).
	Runner Runner
}

// Name implements Manager.
func (s *Systemd) Name() string { return "systemd" }

func (s *Systemd) offline() bool { return cleanRoot(s.Root) != "/" }

func (s *Systemd) systemctl(ctx context.Context, args ...string) ([]byte, error) {
	if s.offline() {
		args = append([]string{"--root=" + cleanRoot(s.Root)}, args...)
	}
	r := s.Runner
	if r == nil {
		r = LocalRunner{}
	}
	return r.Run(ctx, "systemctl", args...)
}

// DaemonReload implements Manager.
func (s *Systemd) DaemonReload(ctx context.Context) error {
	if s.offline() {
		return nil
	}
	if _, err := s.systemctl(ctx, "daemon-reload"); err != nil {
		return fmt.Errorf("systemctl daemon-reload: %w", err)
	}
	return nil
}

// Enable implements Manager.
func (s *Systemd) Enable(ctx context.Context, unit string) error {
	if _, err := s.systemctl(ctx, "enable", unitFile(unit)); err != nil {
		return fmt.Errorf("enable %s: %w", unitFile(unit), err)
	}
	return nil
}

// Disable implements Manager.
func (s *Systemd) Disable(ctx context.Context, unit string) error {
	if _, err := s.systemctl(ctx, "disable", unitFile(unit)); err != nil {
		return fmt.Errorf("disable %s: %w", unitFile(unit), err)
	}
	return nil
}

// Start implements Manager. With Type=notify units (k3s) systemctl start
// returns once the service reported READY=1.
func (s *Systemd) Start(ctx context.Context, unit string) error {
	if s.offline() {
		return fmt.Errorf("start %s: %w", unitFile(unit), ErrOfflineRoot)
	}
	// --no-block: k3s's unit is Type=notify with TimeoutStartSec=0, so a
	// blocking start of a k3s that never becomes ready would never return.
	// The caller's WaitReady bounds the wait instead, with its timeout.
	if _, err := s.systemctl(ctx, "start", "--no-block", unitFile(unit)); err != nil {
		return fmt.Errorf("start %s (see journalctl -u %s): %w", unitFile(unit), serviceName(unit), err)
	}
	return nil
}

// Stop implements Manager.
func (s *Systemd) Stop(ctx context.Context, unit string) error {
	if s.offline() {
		return nil
	}
	if _, err := s.systemctl(ctx, "stop", unitFile(unit)); err != nil {
		return fmt.Errorf("stop %s: %w", unitFile(unit), err)
	}
	return nil
}

// IsActive implements Manager.
func (s *Systemd) IsActive(ctx context.Context, unit string) (bool, error) {
	if s.offline() {
		return false, nil
	}
	return s.query(ctx, "is-active", unit, "active")
}

// IsEnabled implements Manager.
func (s *Systemd) IsEnabled(ctx context.Context, unit string) (bool, error) {
	return s.query(ctx, "is-enabled", unit, "enabled")
}

// query runs systemctl VERB UNIT, which prints one word and exits non-zero
// for any answer but yes.
func (s *Systemd) query(ctx context.Context, verb, unit, yes string) (bool, error) {
	out, err := s.systemctl(ctx, verb, unitFile(unit))
	var ee *ExitError
	if err != nil && !errors.As(err, &ee) {
		return false, fmt.Errorf("systemctl %s %s: %w", verb, unitFile(unit), err)
	}
	return strings.TrimSpace(string(out)) == yes, nil
}

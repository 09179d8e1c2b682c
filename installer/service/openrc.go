package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// OpenRC drives OpenRC through rc-update and rc-service, in the default
// runlevel. Unit names lose their ".service" suffix ("k3s.service" is the
// init script /etc/init.d/k3s).
//
// For a Root other than "/" Enable and Disable edit the runlevel symlink
// <root>/etc/runlevels/default/NAME directly (what rc-update does), and the
// other methods behave as for Systemd with an alternate root.
type OpenRC struct {
	// Root is the system root (default "/").
	Root string
	// Runner runs rc-update and rc-service (default LocalRunner).
	Runner Runner
}

// Name implements Manager.
func (o *OpenRC) Name() string { return "openrc" }

func (o *OpenRC) offline() bool { return cleanRoot(o.Root) != "/" }

func (o *OpenRC) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	r := o.Runner
	if r == nil {
		r = LocalRunner{}
	}
	return r.Run(ctx, name, args...)
}

func (o *OpenRC) runlevelLink(unit string) string {
	return "/etc/runlevels/default/" + serviceName(unit)
}

// DaemonReload implements Manager; OpenRC reads init scripts on each use.
func (o *OpenRC) DaemonReload(ctx context.Context) error { return nil }

// Enable implements Manager.
func (o *OpenRC) Enable(ctx context.Context, unit string) error {
	name := serviceName(unit)
	if o.offline() {
		if err := symlinkInRoot(o.Root, "/etc/init.d/"+name, o.runlevelLink(unit)); err != nil {
			return fmt.Errorf("enable %s: %w", name, err)
		}
		return nil
	}
	if _, err := o.run(ctx, "rc-update", "add", name, "default"); err != nil {
		return fmt.Errorf("enable %s: %w", name, err)
	}
	return nil
}

// Disable implements Manager.
func (o *OpenRC) Disable(ctx context.Context, unit string) error {
	name := serviceName(unit)
	if o.offline() {
		if err := removeInRoot(o.Root, o.runlevelLink(unit)); err != nil {
			return fmt.Errorf("disable %s: %w", name, err)
		}
		return nil
	}
	if _, err := o.run(ctx, "rc-update", "del", name, "default"); err != nil {
		return fmt.Errorf("disable %s: %w", name, err)
	}
	return nil
}

// Start implements Manager.
func (o *OpenRC) Start(ctx context.Context, unit string) error {
	name := serviceName(unit)
	if o.offline() {
		return fmt.Errorf("start %s: %w", name, ErrOfflineRoot)
	}
	if _, err := o.run(ctx, "rc-service", name, "start"); err != nil {
		return fmt.Errorf("start %s (see /var/log/%s.log): %w", name, name, err)
	}
	return nil
}

// Stop implements Manager.
func (o *OpenRC) Stop(ctx context.Context, unit string) error {
	if o.offline() {
		return nil
	}
	name := serviceName(unit)
	if _, err := o.run(ctx, "rc-service", name, "stop"); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

// IsActive implements Manager: rc-service NAME status exits 0 when started.
func (o *OpenRC) IsActive(ctx context.Context, unit string) (bool, error) {
	if o.offline() {
		return false, nil
	}
	name := serviceName(unit)
	out, err := o.run(ctx, "rc-service", name, "status")
	var ee *ExitError
	if err != nil && !errors.As(err, &ee) {
		return false, fmt.Errorf("rc-service %s status: %w", name, err)
	}
	return err == nil && strings.Contains(string(out), "started"), nil
}

// IsEnabled implements Manager.
func (o *OpenRC) IsEnabled(ctx context.Context, unit string) (bool, error) {
	if o.offline() {
		return existsInRoot(o.Root, o.runlevelLink(unit)), nil
	}
	name := serviceName(unit)
	out, err := o.run(ctx, "rc-update", "show", "default")
	if err != nil {
		return false, fmt.Errorf("rc-update show default: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true, nil
		}
	}
	return false, nil
}

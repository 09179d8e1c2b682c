package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Manager starts, stops, enables and inspects one init system's services.
// Unit names may be given with or without the ".service" suffix
// ("k3s" and "k3s.service" name the same service).
type Manager interface {
	// DaemonReload makes the init system re-read changed unit files.
	DaemonReload(ctx context.Context) error
	// Enable makes unit start at boot; Disable undoes it.
	Enable(ctx context.Context, unit string) error
	Disable(ctx context.Context, unit string) error
	// Start starts unit now and returns once the init system reports it
	// started; Stop stops it.
	Start(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	// IsActive reports whether unit is running.
	IsActive(ctx context.Context, unit string) (bool, error)
	// IsEnabled reports whether unit starts at boot.
	IsEnabled(ctx context.Context, unit string) (bool, error)
	// Name is the init system's name: "systemd", "openrc" or "exec".
	Name() string
}

// EnvManager is the environment variable that overrides Detect:
// "systemd", "openrc" or "exec". Exec is only ever chosen through it.
const EnvManager = "FERRY_SERVICE_MANAGER"

// ErrNoManager is returned by Detect when the root has no init system
// ferry-install can drive.
var ErrNoManager = errors.New("no service manager found (neither systemd nor OpenRC): install with --no-start and start k3s yourself")

// DetectOption changes how Detect builds a Manager.
type DetectOption func(*detectConfig)

type detectConfig struct {
	runner Runner
	getenv func(string) string
}

// WithRunner makes the detected Manager run its commands through r
// (default LocalRunner).
func WithRunner(r Runner) DetectOption { return func(c *detectConfig) { c.runner = r } }

// WithGetenv makes Detect read FERRY_SERVICE_MANAGER through getenv
// (default os.Getenv); tests use it to avoid touching the process
// environment.
func WithGetenv(getenv func(string) string) DetectOption {
	return func(c *detectConfig) { c.getenv = getenv }
}

// Detect returns the Manager for the system under root ("/" for this
// host). FERRY_SERVICE_MANAGER, when set, decides; otherwise systemd is
// chosen when <root>/run/systemd/system exists (a booted systemd), or for
// an alternate root whose image carries systemd (then only enabling
// works, see Systemd); OpenRC when <root>/sbin/openrc-run exists.
// Otherwise it returns an error wrapping ErrNoManager.
func Detect(root string, opts ...DetectOption) (Manager, error) {
	cfg := detectConfig{runner: LocalRunner{}, getenv: os.Getenv}
	for _, o := range opts {
		o(&cfg)
	}
	root = cleanRoot(root)
	switch v := cfg.getenv(EnvManager); v {
	case "systemd":
		return &Systemd{Root: root, Runner: cfg.runner}, nil
	case "openrc":
		return &OpenRC{Root: root, Runner: cfg.runner}, nil
	case "exec":
		return &Exec{Root: root}, nil
	case "":
	default:
		return nil, fmt.Errorf("%s=%q: use systemd, openrc or exec, or unset it", EnvManager, v)
	}
	// Looked up inside the root (installer/hostfs), so that a link in an
	// alternate root cannot point the detection at this machine's files.
	// On this machine's own root only a running systemd can be driven;
	// an alternate root is driven as the init system its files name.
	if isDirInRoot(root, "/run/systemd/system") {
		return &Systemd{Root: root, Runner: cfg.runner}, nil
	}
	exists := func(p string) bool { return existsInRoot(root, p) }
	if root != "/" && InitOf(exists) == InitSystemd {
		return &Systemd{Root: root, Runner: cfg.runner}, nil
	}
	for _, p := range OpenRCMarkers {
		if exists(p) {
			return &OpenRC{Root: root, Runner: cfg.runner}, nil
		}
	}
	return nil, fmt.Errorf("root %s: %w", root, ErrNoManager)
}

// cleanRoot makes "" mean "/" and cleans the path.
func cleanRoot(root string) string {
	if root == "" {
		return "/"
	}
	return filepath.Clean(root)
}

// unitFile returns unit with the ".service" suffix.
func unitFile(unit string) string {
	if strings.Contains(unit, ".") {
		return unit
	}
	return unit + ".service"
}

// serviceName returns unit without the ".service" suffix, as OpenRC and
// journalctl -u take it.
func serviceName(unit string) string { return strings.TrimSuffix(unit, ".service") }

package installer

import (
	"errors"
	"fmt"

	"github.com/ferry-k3s/ferry/installer/preflight"
)

// ErrPreflight: a preflight check failed and --skip-preflight was not given.
// main maps it to exit code 4. It is preflight.ErrPreflight, so errors of
// either package match it.
var ErrPreflight = preflight.ErrPreflight

// ErrRolledBack: the install failed and every change was undone; the host
// is as it was before. main maps it to exit code 5.
var ErrRolledBack = errors.New("the install failed and was rolled back: the host is unchanged")

// ErrInstalled: ferry has already installed a bundle on this host.
var ErrInstalled = errors.New("ferry has already installed k3s here: use 'ferry-install upgrade', or 'ferry-install uninstall' first")

// ErrNotInstalled: there is no /var/lib/ferry/state.json to uninstall from.
var ErrNotInstalled = errors.New("ferry has not installed anything here (no /var/lib/ferry/state.json)")

// RolledBackError is a failed install whose changes were all undone. It
// matches ErrRolledBack with errors.Is and unwraps to the failure, so that
// errors.As still finds, say, a *bundle.DigestError.
type RolledBackError struct {
	Err error
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("%v (rolled back: the host is unchanged)", e.Err)
}

// Unwrap returns the failure and ErrRolledBack.
func (e *RolledBackError) Unwrap() []error { return []error{e.Err, ErrRolledBack} }

package main

import (
	"errors"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/installer"
)

// Exit codes (documented in the README). A failure that has several
// causes gets the first that applies in this order: expired, verification,
// preflight, rolled back.
const (
	exitFailure      = 1 // anything else
	exitVerification = 3 // signature, digest, format or limit failure
	exitPreflight    = 4 // a preflight check failed
	exitRolledBack   = 5 // the install failed and was undone
	exitExpired      = 6 // expired bundle
)

func exitCode(err error) int {
	var (
		fe *bundle.FormatError
		de *bundle.DigestError
		ne *bundle.NameError
		le *bundle.LimitError
		se *bundle.StreamError
	)
	switch {
	case errors.Is(err, bundle.ErrExpired):
		return exitExpired
	case errors.Is(err, bundle.ErrSignature), errors.Is(err, bundle.ErrUnsigned),
		errors.As(err, &fe), errors.As(err, &de), errors.As(err, &ne), errors.As(err, &le), errors.As(err, &se):
		return exitVerification
	case errors.Is(err, installer.ErrPreflight):
		return exitPreflight
	case errors.Is(err, installer.ErrRolledBack):
		return exitRolledBack
	}
	return exitFailure
}

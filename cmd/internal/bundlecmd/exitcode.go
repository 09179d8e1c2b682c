package bundlecmd

import (
	"errors"
	"fmt"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/signing"
)

// Exit codes both binaries give for bundle failures (the README lists
// them with ferry-install's own).
const (
	ExitFailure      = 1 // anything else
	ExitVerification = 3 // signature, signer, key type, digest, format, limit, part or side-file failure
	ExitExpired      = 6 // expired bundle
)

// Hint adds the flag that answers a library error, which names no flags
// itself: the library does not know the command line.
func Hint(err error) error {
	switch {
	case errors.Is(err, bundle.ErrUnsigned):
		return fmt.Errorf("%w (--insecure-skip-signature accepts it)", err)
	case errors.Is(err, bundle.ErrSignature), errors.Is(err, bundle.ErrSignerMismatch):
		return fmt.Errorf("%w (--key names the trusted public key)", err)
	}
	return err
}

// ExitCode maps err to ExitExpired or ExitVerification when it is one of
// bundle's or signing's typed verification errors, and reports false for
// any other error.
func ExitCode(err error) (int, bool) {
	var (
		fe *bundle.FormatError
		de *bundle.DigestError
		ne *bundle.NameError
		le *bundle.LimitError
		se *bundle.StreamError
		pe *bundle.PartError
		sf *bundle.SideFileError
	)
	switch {
	case errors.Is(err, bundle.ErrExpired):
		return ExitExpired, true
	case errors.Is(err, bundle.ErrSignature), errors.Is(err, bundle.ErrUnsigned), errors.Is(err, bundle.ErrSignerMismatch),
		errors.Is(err, signing.ErrKeyType), errors.Is(err, signing.ErrBadSignature),
		errors.As(err, &fe), errors.As(err, &de), errors.As(err, &ne), errors.As(err, &le), errors.As(err, &se),
		errors.As(err, &pe), errors.As(err, &sf):
		return ExitVerification, true
	}
	return ExitFailure, false
}

package main

import (
	"errors"

	"github.com/ferry-k3s/ferry/bundle"
)

// Exit codes (documented in the README).
const (
	exitFailure      = 1 // anything else
	exitVerification = 3 // signature, digest, format or limit failure
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
	}
	return exitFailure
}

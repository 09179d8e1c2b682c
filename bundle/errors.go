package bundle

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on (main maps them to exit codes).
var (
	// ErrUnsigned: the bundle carries no signature and the caller did not
	// allow unsigned bundles.
	ErrUnsigned = errors.New("bundle is not signed: sign it with 'ferry sign', or accept an unsigned bundle explicitly")
	// ErrSignature: the signature over bundle.json does not verify with the
	// trusted key.
	ErrSignature = errors.New("signature over bundle.json does not verify with the trusted key: check that the key is the bundle's signer's public key")
	// ErrSignerMismatch: the signature verifies, but the manifest's key id
	// names another key.
	ErrSignerMismatch = errors.New("the manifest's signer key id is not the key that verified it: the bundle was re-signed without updating its manifest, refused")
	// ErrExpired: the manifest's expiry has passed.
	ErrExpired = errors.New("bundle has expired: build a fresh bundle")
)

// FormatError is a bundle whose structure breaks the format: an entry out of
// order, missing, unexpected, of the wrong type or of the wrong size.
type FormatError struct {
	Entry string
	Err   error
}

func (e *FormatError) Error() string { return fmt.Sprintf("bundle entry %q: %v", e.Entry, e.Err) }
func (e *FormatError) Unwrap() error { return e.Err }

// DigestError is an entry whose content does not match the manifest.
type DigestError struct {
	Entry     string
	Want, Got string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("bundle entry %q: sha256 %s does not match the manifest's %s: the bundle was modified or damaged, copy it again", e.Entry, e.Got, e.Want)
}

// NameError is an entry name that could escape the unpack directory or that
// the format does not allow.
type NameError struct {
	Name string
	Why  string
}

func (e *NameError) Error() string {
	return fmt.Sprintf("bundle entry name %q refused: %s", e.Name, e.Why)
}

// LimitError is input larger than the manifest or the reader's caps allow:
// a decompression bomb, an oversized entry or trailing data.
type LimitError struct {
	What  string
	Limit int64
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("bundle exceeds a limit: %s (limit %d bytes): the bundle is damaged or hostile", e.What, e.Limit)
}

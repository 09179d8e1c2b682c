package charts

import (
	"errors"
	"fmt"
	"strings"
)

// ErrProvenance marks a chart whose provenance file is missing or does not
// verify with the keyring. Callers branch on it with errors.Is.
var ErrProvenance = errors.New("chart provenance check failed")

// VersionError is a chart version that the repository or registry does not
// have. Available lists the versions it does have, newest first as the
// source orders them.
type VersionError struct {
	Chart, Version, Repo string
	Available            []string
	// Field is the spec field to fix, e.g. "charts[0].version".
	Field string
}

// maxListedVersions bounds the versions an error message lists.
const maxListedVersions = 5

func (e *VersionError) Error() string {
	has := "has no versions"
	if len(e.Available) > 0 {
		list := e.Available
		more := ""
		if len(list) > maxListedVersions {
			list, more = list[:maxListedVersions], ", ..."
		}
		has = "has " + strings.Join(list, ", ") + more
	}
	return fmt.Sprintf("chart %s %s not found in %s (%s): fix %s", e.Chart, e.Version, e.Repo, has, e.Field)
}

// provenanceError wraps why a provenance check failed so that errors.Is
// matches ErrProvenance while the message stays one readable line.
type provenanceError struct {
	msg string
	err error
}

func (e *provenanceError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}
func (e *provenanceError) Unwrap() []error { return []error{ErrProvenance, e.err} }

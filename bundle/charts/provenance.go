package charts

import (
	"fmt"

	"helm.sh/helm/v3/pkg/provenance"
)

// verifyProvenance checks a's .prov file (beside it in the cache) against
// the keyring: the signature must come from a key in the ring and the
// signed sha256 of <name>-<version>.tgz must match the archive.
func verifyProvenance(a *Archive, keyring string) error {
	prov := a.Path + ".prov"
	if !exists(prov) {
		return &provenanceError{msg: fmt.Sprintf("chart %s %s has no provenance file: the chart is not signed; remove the keyring to accept it unsigned", a.Name, a.Version)}
	}
	sig, err := provenance.NewFromKeyring(keyring, "")
	if err != nil {
		return &provenanceError{msg: fmt.Sprintf("load keyring %s to verify chart %s %s (it must be a binary GnuPG keyring, e.g. from 'gpg --export')", keyring, a.Name, a.Version), err: err}
	}
	if _, err := sig.Verify(a.Path, prov); err != nil {
		return &provenanceError{msg: fmt.Sprintf("verify provenance of chart %s %s with keyring %s", a.Name, a.Version, keyring), err: err}
	}
	return nil
}

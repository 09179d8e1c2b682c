package builder

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SPDX 2.3 in JSON, only the fields a reader of an air-gap bundle needs:
// what is inside, in which version, with which digest, from where.
type spdxDoc struct {
	SPDXVersion       string        `json:"spdxVersion"`
	DataLicense       string        `json:"dataLicense"`
	SPDXID            string        `json:"SPDXID"`
	Name              string        `json:"name"`
	DocumentNamespace string        `json:"documentNamespace"`
	CreationInfo      spdxCreation  `json:"creationInfo"`
	Packages          []spdxPackage `json:"packages"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	PrimaryPurpose   string         `json:"primaryPackagePurpose,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

// sbom describes the plan's artifacts as an SPDX document; it is a pure
// function of the plan and the creation time, so builds stay reproducible.
func (p *Plan) sbom(created time.Time) ([]byte, error) {
	s := p.Spec
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              s.Metadata.Name + "-" + s.Metadata.Version,
		DocumentNamespace: "https://ferry.k3s.io/spdx/" + s.Metadata.Name + "-" + s.Metadata.Version,
		CreationInfo:      spdxCreation{Created: created.UTC().Format(time.RFC3339), Creators: []string{"Tool: ferry"}},
	}
	n := 0
	add := func(name, version, loc, sha, purpose string) {
		n++
		pkg := spdxPackage{Name: name, SPDXID: fmt.Sprintf("SPDXRef-Package-%d", n), VersionInfo: version, DownloadLocation: loc, PrimaryPurpose: purpose}
		if sha != "" {
			pkg.Checksums = []spdxChecksum{{Algorithm: "SHA256", Value: strings.TrimPrefix(sha, "sha256:")}}
		}
		doc.Packages = append(doc.Packages, pkg)
	}
	for _, a := range p.Assets {
		add("k3s-"+a.Arch, s.K3s.Version, a.BinaryURL, a.Binary.SHA256, "APPLICATION")
		add("k3s-airgap-images-"+a.Arch, s.K3s.Version, a.AirgapURL, a.Airgap.SHA256, "ARCHIVE")
	}
	for _, c := range p.Charts {
		add(c.Archive.Name, c.Archive.Version, c.Spec.Repo, c.Archive.SHA256, "ARCHIVE")
	}
	for _, arch := range s.K3s.Arch {
		for _, im := range p.Images[arch] {
			add(im.Ref+" ("+arch+")", "", im.Ref, im.Digest, "CONTAINER")
		}
	}
	for _, f := range p.Files {
		add(f.Name, "", f.Spec.Source, f.File.SHA256, "FILE")
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sbom: %w", err)
	}
	return append(b, '\n'), nil
}

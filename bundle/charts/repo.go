package charts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/repo"
)

// pullRepo downloads src from a classic chart repository: index.yaml, then
// the archive it lists for the exact version, then the .prov when a keyring
// is set.
func pullRepo(ctx context.Context, c cache, src Source, o *options) (*Archive, error) {
	g := httpGetter{client: withContext(ctx, o.client)}
	entry := &repo.Entry{Name: refKey("index", src.Repo, "", "")[:16], URL: src.Repo}
	cr, err := repo.NewChartRepository(entry, g.providers())
	if err != nil {
		return nil, fmt.Errorf("pull chart %s from %s: %w", src.Name, src.Repo, err)
	}
	// A private index cache per pull: concurrent pulls never read each
	// other's half-written index.yaml, and the user's Helm cache is untouched.
	if err := os.MkdirAll(c.helmDir(), 0o755); err != nil {
		return nil, fmt.Errorf("pull chart %s: %w", src.Name, err)
	}
	cr.CachePath, err = os.MkdirTemp(c.helmDir(), "repository-*")
	if err != nil {
		return nil, fmt.Errorf("pull chart %s: %w", src.Name, err)
	}
	defer os.RemoveAll(cr.CachePath)

	var indexPath string
	err = retry(ctx, o.retries, func() (err error) {
		indexPath, err = cr.DownloadIndexFile()
		return err
	})
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("pull chart %s: %s has no index.yaml: check it is a Helm chart repository URL (fix %s)", src.Name, src.Repo, o.fieldHint("repo"))
	}
	if err != nil {
		return nil, fmt.Errorf("pull chart %s: read index of %s: %w", src.Name, src.Repo, err)
	}
	index, err := repo.LoadIndexFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("pull chart %s: parse index of %s: %w", src.Name, src.Repo, err)
	}
	cv, err := findVersion(index, src, o)
	if err != nil {
		return nil, err
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("pull chart %s %s: index of %s lists no download URL for it", src.Name, src.Version, src.Repo)
	}
	chartURL, err := repo.ResolveReferenceURL(src.Repo, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("pull chart %s %s: resolve %q against %s: %w", src.Name, src.Version, cv.URLs[0], src.Repo, err)
	}

	var data []byte
	err = retry(ctx, o.retries, func() error {
		buf, err := g.Get(chartURL)
		if err == nil {
			data = buf.Bytes()
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pull chart %s %s: %w", src.Name, src.Version, err)
	}
	if cv.Digest != "" && !strings.EqualFold(strings.TrimPrefix(cv.Digest, "sha256:"), digest(data)) {
		return nil, fmt.Errorf("pull chart %s %s: %s has sha256 %s but the index says %s: the repository is inconsistent or the download was altered", src.Name, src.Version, chartURL, digest(data), cv.Digest)
	}
	if _, _, err := checkArchive(data, src, chartURL); err != nil {
		return nil, err
	}

	var prov []byte
	if src.Keyring != "" {
		err = retry(ctx, o.retries, func() error {
			buf, err := g.Get(chartURL + ".prov")
			if err == nil {
				prov = buf.Bytes()
			}
			return err
		})
		if errors.Is(err, errNotFound) {
			return nil, &provenanceError{msg: fmt.Sprintf("chart %s %s: provenance file %s.prov is missing: the chart is not signed; remove the keyring to accept it unsigned", src.Name, src.Version, chartURL)}
		}
		if err != nil {
			return nil, fmt.Errorf("pull provenance of chart %s %s: %w", src.Name, src.Version, err)
		}
	}
	return c.store(src.Name, src.Version, data, prov)
}

// findVersion returns the index entry for exactly src.Version.
func findVersion(index *repo.IndexFile, src Source, o *options) (*repo.ChartVersion, error) {
	versions := index.Entries[src.Name]
	if len(versions) == 0 {
		return nil, fmt.Errorf("chart %s not found in %s: fix %s", src.Name, src.Repo, o.fieldHint("name"))
	}
	have := make([]string, 0, len(versions))
	for _, cv := range versions {
		if cv.Version == src.Version {
			return cv, nil
		}
		have = append(have, cv.Version)
	}
	return nil, &VersionError{Chart: src.Name, Version: src.Version, Repo: src.Repo, Available: have, Field: o.fieldHint("version")}
}

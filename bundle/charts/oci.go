package charts

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/registry"
)

// pullOCI downloads src from an OCI registry: the chart is Repo/Name:Version
// (a "+" in the version is "_" in the tag, as Helm pushes it).
func pullOCI(ctx context.Context, c cache, src Source, o *options) (*Archive, error) {
	client, err := newRegistryClient(ctx, c, o)
	if err != nil {
		return nil, fmt.Errorf("pull chart %s: %w", src.Name, err)
	}
	base := strings.TrimSuffix(strings.TrimPrefix(src.Repo, "oci://"), "/") + "/" + src.Name
	ref := base + ":" + strings.ReplaceAll(src.Version, "+", "_")

	var res *registry.PullResult
	err = retry(ctx, o.retries, func() (err error) {
		res, err = client.Pull(ref,
			registry.PullOptWithProv(src.Keyring != ""),
			registry.PullOptIgnoreMissingProv(true))
		return err
	})
	if err != nil {
		// Tell a missing version apart from an unreachable registry.
		if tags, terr := client.Tags(base); terr == nil && !slices.Contains(tags, src.Version) {
			return nil, &VersionError{Chart: src.Name, Version: src.Version, Repo: src.Repo, Available: tags, Field: o.fieldHint("version")}
		}
		return nil, fmt.Errorf("pull chart %s %s from oci://%s: %w", src.Name, src.Version, ref, err)
	}
	data := res.Chart.Data
	if _, _, err := checkArchive(data, src, "oci://"+ref); err != nil {
		return nil, err
	}
	var prov []byte
	if src.Keyring != "" {
		if len(res.Prov.Data) == 0 {
			return nil, &provenanceError{msg: fmt.Sprintf("chart %s %s: oci://%s has no provenance layer: the chart is not signed; remove the keyring to accept it unsigned", src.Name, src.Version, ref)}
		}
		prov = res.Prov.Data
	}
	return c.store(src.Name, src.Version, data, prov)
}

// newRegistryClient builds a Helm registry client that uses the caller's
// HTTP client and a credentials file inside the cache, never the user's.
func newRegistryClient(ctx context.Context, c cache, o *options) (*registry.Client, error) {
	opts := []registry.ClientOption{
		registry.ClientOptHTTPClient(withContext(ctx, o.client)),
		registry.ClientOptCredentialsFile(filepath.Join(c.helmDir(), "registry", "config.json")),
		registry.ClientOptWriter(io.Discard),
	}
	if o.plainHTTP {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	client, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("set up registry client: %w", err)
	}
	return client, nil
}

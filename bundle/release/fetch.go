package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ferry-k3s/ferry/bundle/fetch"
)

// Source names one architecture of one k3s release.
type Source struct {
	// BaseURL is the prefix under which each version is a directory:
	// https://, http://, file:// or a local path. Default: DefaultBaseURL.
	BaseURL string
	// Version is an exact release, such as v1.31.4+k3s1.
	Version string
	// Arch is amd64, arm64 or arm.
	Arch string
	// Pinned maps upstream asset names (k3s-arm64,
	// k3s-airgap-images-arm64.tar.zst) to sha256 digests, as recorded by a
	// lock file. With both the binary and the airgap tarball pinned and
	// cached, Fetch makes no request at all, not even for the checksum list.
	Pinned map[string]string
}

// Assets are one architecture's release files, in the fetch cache.
type Assets struct {
	// Version and Arch are those of the Source.
	Version, Arch string
	// Names are the upstream file names.
	Names Names
	// Binary is the k3s executable.
	Binary fetch.File
	// Airgap is the upstream airgap image tarball, byte-identical.
	Airgap fetch.File
	// BinaryURL and AirgapURL are where the files came from.
	BinaryURL, AirgapURL string
}

// Pins returns the asset digests in the form Source.Pinned takes, for a lock
// file.
func (a *Assets) Pins() map[string]string {
	return map[string]string{a.Names.Binary: a.Binary.SHA256, a.Names.Airgap: a.Airgap.SHA256}
}

// Fetch gets the k3s binary and airgap tarball of src through c, checking
// each against the release's sha256sum-<arch>.txt (fetched first, unless
// both digests are pinned) or against src.Pinned. A missing checksum line
// or a mismatch is an error naming the asset, version and arch.
func Fetch(ctx context.Context, c *fetch.Client, src Source) (*Assets, error) {
	if c == nil {
		return nil, errors.New("fetch k3s release: nil fetch client")
	}
	if err := CheckVersion(src.Version); err != nil {
		return nil, err
	}
	names, err := AssetNames(src.Arch)
	if err != nil {
		return nil, err
	}
	base := src.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	what := fmt.Sprintf("k3s %s %s", src.Version, src.Arch)
	sums := map[string]string{
		names.Binary: src.Pinned[names.Binary],
		names.Airgap: src.Pinned[names.Airgap],
	}
	if sums[names.Binary] == "" || sums[names.Airgap] == "" {
		list, err := checksums(ctx, c, AssetURL(base, src.Version, names.Checksums))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		for _, name := range []string{names.Binary, names.Airgap} {
			up, ok := list[name]
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: %s has no line for %s: the release is incomplete or %s is not a k3s release mirror", what, names.Checksums, name, base)
			case sums[name] == "":
				sums[name] = up
			case !sameDigest(sums[name], up):
				return nil, fmt.Errorf("%s: asset %s is pinned to sha256 %s but %s lists %s: update the lock file (ferry lock) or check the mirror", what, name, sums[name], names.Checksums, up)
			}
		}
	}
	a := &Assets{
		Version:   src.Version,
		Arch:      src.Arch,
		Names:     names,
		BinaryURL: AssetURL(base, src.Version, names.Binary),
		AirgapURL: AssetURL(base, src.Version, names.Airgap),
	}
	for _, get := range []struct {
		name, url string
		dst       *fetch.File
	}{
		{names.Binary, a.BinaryURL, &a.Binary},
		{names.Airgap, a.AirgapURL, &a.Airgap},
	} {
		f, err := c.Get(ctx, get.url, fetch.Want{SHA256: sums[get.name], Immutable: true})
		if err != nil {
			return nil, fmt.Errorf("%s: asset %s: %w", what, get.name, err)
		}
		*get.dst = *f
	}
	return a, nil
}

// MaxChecksumList caps the download of a sha256sum-<arch>.txt list (1 MiB;
// real ones are a few KiB). The assets themselves, whose size nothing
// declares but the server, are capped by the fetch client's WithMaxSize.
const MaxChecksumList = 1 << 20

// checksums fetches and parses a checksum list.
func checksums(ctx context.Context, c *fetch.Client, url string) (map[string]string, error) {
	f, err := c.Get(ctx, url, fetch.Want{Immutable: true, Max: MaxChecksumList})
	if err != nil {
		return nil, err
	}
	r, err := os.Open(f.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	defer r.Close()
	sums, err := ParseChecksums(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return sums, nil
}

func sameDigest(pinned, listed string) bool {
	pinned = strings.TrimPrefix(strings.ToLower(pinned), "sha256:")
	return pinned == listed
}

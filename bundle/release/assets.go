package release

import (
	"fmt"
	"net/url"
	"strings"
)

// DefaultBaseURL is where k3s publishes its releases.
const DefaultBaseURL = "https://github.com/k3s-io/k3s/releases/download"

// Arches lists the architectures k3s publishes, in the order used in
// error messages.
var Arches = []string{"amd64", "arm64", "arm"}

// Names are the upstream file names of one architecture's assets.
type Names struct {
	// Binary is the k3s executable: k3s, k3s-arm64 or k3s-armhf.
	Binary string
	// Airgap is the zstd image tarball: k3s-airgap-images-<arch>.tar.zst.
	Airgap string
	// Checksums is the checksum list: sha256sum-<arch>.txt.
	Checksums string
}

// AssetNames returns the upstream file names for arch (amd64, arm64 or
// arm).
func AssetNames(arch string) (Names, error) {
	var bin string
	switch arch {
	case "amd64":
		bin = "k3s"
	case "arm64":
		bin = "k3s-arm64"
	case "arm":
		bin = "k3s-armhf"
	default:
		return Names{}, fmt.Errorf("k3s arch %q is not published by k3s: use one of %s", arch, strings.Join(Arches, ", "))
	}
	return Names{
		Binary:    bin,
		Airgap:    "k3s-airgap-images-" + arch + ".tar.zst",
		Checksums: "sha256sum-" + arch + ".txt",
	}, nil
}

// CheckVersion reports whether version names one exact k3s release, such as
// v1.31.4+k3s1 or v1.32.0-rc1+k3s1; channels such as "stable" or "latest"
// are refused because they do not name fixed bytes.
func CheckVersion(version string) error {
	fix := "pin an exact release such as v1.31.4+k3s1"
	if len(version) < 2 || version[0] != 'v' || version[1] < '0' || version[1] > '9' {
		return fmt.Errorf("k3s version %q is not an exact release: %s", version, fix)
	}
	for i := 0; i < len(version); i++ {
		c := version[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '+') {
			return fmt.Errorf("k3s version %q has character %q: %s", version, c, fix)
		}
	}
	if !strings.Contains(version, "+k3s") {
		return fmt.Errorf("k3s version %q lacks the +k3sN suffix: %s", version, fix)
	}
	return nil
}

// AssetURL returns where asset of version lives under base: for http(s)
// bases the version's "+" is escaped as %2B; for file:// bases and bare
// paths the literal version is the directory name.
func AssetURL(base, version, asset string) string {
	base = strings.TrimRight(base, "/")
	dir := version
	if isHTTP(base) {
		dir = strings.ReplaceAll(url.PathEscape(version), "+", "%2B")
	}
	return base + "/" + dir + "/" + asset
}

func isHTTP(base string) bool {
	l := strings.ToLower(base)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

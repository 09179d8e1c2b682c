package images

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// imageRef is a parsed image reference: the registry client's view plus the
// normalised names containerd will know the image by.
type imageRef struct {
	ref  name.Reference // what is asked of the registry
	repo string         // normalised repository, docker.io/library/nginx
	tag  string         // "" when the reference has none
	dig  string         // "" when the reference has none
}

// parseRef parses an image reference as Docker does: "nginx" is
// docker.io/library/nginx:latest. A reference may carry a tag and a digest
// (repo:tag@sha256:...); the digest then decides what is pulled.
func parseRef(s string) (imageRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return imageRef{}, fmt.Errorf("image reference is empty: remove the empty entry from images.extra")
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return imageRef{}, fmt.Errorf("image %q: %w: write it as registry/repository:tag or registry/repository@sha256:<digest>", s, err)
	}
	r := imageRef{ref: ref, repo: normalRepo(ref.Context())}
	switch v := ref.(type) {
	case name.Tag:
		r.tag = v.TagStr()
	case name.Digest:
		r.dig = v.DigestStr()
		// name.NewDigest drops a tag given beside the digest; keep it as a
		// name for the image.
		base := strings.SplitN(s, "@", 2)[0]
		if t, err := name.NewTag(base); err == nil && lastColonIsTag(base) {
			r.tag = t.TagStr()
		}
	}
	// The short form may parse where the full one does not: "library/"
	// and the registry count towards the 255-character repository limit.
	if _, err := name.ParseReference(r.String()); err != nil {
		return imageRef{}, fmt.Errorf("image %q: its full name %.80q... is not a valid reference (%v): shorten the repository path", s, r.String(), err)
	}
	return r, nil
}

// lastColonIsTag reports whether base ends in ":tag" rather than a
// registry port ("localhost:5000/app").
func lastColonIsTag(base string) bool {
	i := strings.LastIndex(base, ":")
	return i >= 0 && !strings.Contains(base[i:], "/")
}

// normalRepo names a repository as containerd and the kubelet do: Docker
// Hub is docker.io, not go-containerregistry's index.docker.io.
func normalRepo(repo name.Repository) string {
	reg := repo.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + repo.RepositoryStr()
}

// String is the normalised full reference: repo:tag, repo@digest or
// repo:tag@digest.
func (r imageRef) String() string {
	s := r.repo
	if r.tag != "" {
		s += ":" + r.tag
	}
	if r.dig != "" {
		s += "@" + r.dig
	}
	return s
}

// names are the names containerd should know the image by: repo:tag when
// there is a tag, repo@digest when there is a digest, so that a pod spec
// using either form finds the image without pulling.
func (r imageRef) names() []string {
	var out []string
	if r.tag != "" {
		out = append(out, r.repo+":"+r.tag)
	}
	if r.dig != "" {
		out = append(out, r.repo+"@"+r.dig)
	}
	return out
}

// at is the reference of a manifest or blob by digest in the same
// repository.
func (r imageRef) at(digest string) (name.Digest, error) {
	return name.NewDigest(r.ref.Context().Name() + "@" + digest)
}

// platformFor is the platform an arch name stands for: amd64, arm64, or arm
// (linux/arm/v7, the only 32-bit ARM k3s ships for).
func platformFor(arch string) (v1.Platform, error) {
	switch arch {
	case "amd64", "arm64":
		return v1.Platform{OS: "linux", Architecture: arch}, nil
	case "arm":
		return v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, nil
	}
	return v1.Platform{}, fmt.Errorf("architecture %q is not supported: use amd64, arm64 or arm", arch)
}

// platformString prints a platform as os/arch[/variant].
func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// matches reports whether p runs on want. An arm image without a variant is
// taken as v7-compatible; amd64 and arm64 ignore variants (v8, v2...).
func matches(p *v1.Platform, want v1.Platform) bool {
	if p == nil || p.OS != want.OS || p.Architecture != want.Architecture {
		return false
	}
	if want.Architecture == "arm" {
		return p.Variant == "" || p.Variant == want.Variant
	}
	return true
}

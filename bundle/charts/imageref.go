package charts

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// maxRefLen bounds an image reference; longer strings are not images.
const maxRefLen = 512

// normalizeImage parses ref as an image reference (weak validation, so a
// missing tag means ":latest") and returns its full form:
// registry/repository[:tag][@digest], with Docker Hub spelled docker.io and
// its official images under library/.
func normalizeImage(ref string) (string, error) {
	if ref == "" || len(ref) > maxRefLen || strings.TrimSpace(ref) != ref {
		return "", fmt.Errorf("image %q is not a valid reference", ref)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid reference: %w", ref, err)
	}
	repo := r.Context().Name()
	if rest, ok := strings.CutPrefix(repo, name.DefaultRegistry+"/"); ok {
		repo = "docker.io/" + rest
	}
	switch r := r.(type) {
	case name.Tag:
		return repo + ":" + r.TagStr(), nil
	case name.Digest:
		base := ref[:strings.LastIndex(ref, "@")]
		if tag, ok := tagOf(base); ok {
			return repo + ":" + tag + "@" + r.DigestStr(), nil
		}
		return repo + "@" + r.DigestStr(), nil
	}
	return "", fmt.Errorf("image %q is not a tag or digest reference", ref)
}

// tagOf returns the explicit tag of a reference without a digest.
func tagOf(ref string) (string, bool) {
	last := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 || i == len(last)-1 {
		return "", false
	}
	return last[i+1:], true
}

// imageLike reports whether s, a word found in free text (an argument, an
// environment value, ConfigMap data), names an image, and returns its full
// form. Free text is full of things that parse as references ("true",
// "localhost:8080", "/etc/config"), so a word counts only when it has a
// repository path with an explicit tag (longhornio/longhorn-engine:v1.7.2)
// or a digest (foo@sha256:...), and is not a URL, a file path or a flag.
func imageLike(s string) (string, bool) {
	if len(s) < 3 || len(s) > maxRefLen {
		return "", false
	}
	switch s[0] {
	case '-', '/', '.', '~', '$', '{', '%', '@', ':':
		return "", false
	}
	if strings.Contains(s, "://") || strings.Contains(s, "{{") || strings.Contains(s, "//") {
		return "", false
	}
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if !strings.HasPrefix(s[at+1:], "sha256:") {
			return "", false
		}
	} else {
		if !strings.Contains(s, "/") {
			return "", false // a bare "word:tag" is as likely host:port
		}
		if _, ok := tagOf(s); !ok {
			return "", false
		}
	}
	out, err := normalizeImage(s)
	if err != nil {
		return "", false
	}
	return out, true
}

// textSeparators split free text into candidate words: shell and YAML/JSON
// punctuation, and "=" so that "--flag=value" and "KEY=value" yield value.
const textSeparators = " \t\r\n\"'`,;=()[]{}<>|\\"

// imagesInText returns the image-like words of free text.
func imagesInText(text string) []string {
	var out []string
	words := strings.FieldsFunc(text, func(r rune) bool { return strings.ContainsRune(textSeparators, r) })
	for _, w := range words {
		w = strings.TrimRight(w, ".:")
		if ref, ok := imageLike(w); ok {
			out = append(out, ref)
		}
	}
	return out
}

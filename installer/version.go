package installer

import (
	"strconv"
	"strings"
)

// compareVersions orders two bundle versions: -1 when a is older than b,
// 0 when they are the same, +1 when a is newer. Versions are compared like
// semantic versions: a leading "v" is ignored, dot-separated numeric parts
// compare as numbers (missing parts count as 0), a pre-release ("-rc.1")
// is older than its release, and build metadata ("+k3s1") breaks ties so
// that v1.31.4+k3s2 is newer than v1.31.4+k3s1. Parts that are not numbers
// compare as text.
func compareVersions(a, b string) int {
	a, b = strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v")
	aCore, aBuild, _ := strings.Cut(a, "+")
	bCore, bBuild, _ := strings.Cut(b, "+")
	aRel, aPre, aHasPre := strings.Cut(aCore, "-")
	bRel, bPre, bHasPre := strings.Cut(bCore, "-")
	if c := compareParts(strings.Split(aRel, "."), strings.Split(bRel, ".")); c != 0 {
		return c
	}
	switch {
	case aHasPre && !bHasPre:
		return -1
	case !aHasPre && bHasPre:
		return 1
	case aHasPre:
		if c := compareParts(strings.Split(aPre, "."), strings.Split(bPre, ".")); c != 0 {
			return c
		}
	}
	if aBuild == bBuild {
		return 0
	}
	return compareParts(strings.Split(aBuild, "."), strings.Split(bBuild, "."))
}

// compareParts compares dot-separated parts pairwise; a missing part is 0
// (or empty text), a number is older than text, and text parts ending in
// digits ("k3s2") compare by their prefix then their number.
func compareParts(a, b []string) int {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func comparePart(x, y string) int {
	xp, xn := splitNumber(x)
	yp, yn := splitNumber(y)
	if c := strings.Compare(xp, yp); c != 0 {
		return c
	}
	switch {
	case xn < yn:
		return -1
	case xn > yn:
		return 1
	}
	return 0
}

// splitNumber splits "k3s12" into "k3s" and 12, "7" into "" and 7; a
// missing number is 0.
func splitNumber(s string) (string, uint64) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, _ := strconv.ParseUint(s[i:], 10, 64)
	return s[:i], n
}

// Package digest owns the one spelling of a sha256 digest that Ferry writes
// in manifests, lock files, caches and checksum files: 64 lowercase hex
// digits with no algorithm prefix. Both binaries and the builder's fetchers
// use it, so it depends on nothing.
package digest

// IsSHA256Hex reports whether s is a sha256 digest as Ferry writes them:
// 64 lowercase hex digits, no prefix.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

package release

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-k3s/ferry/internal/digest"
)

// maxChecksumLine bounds a line of a checksum list; real lines are ~100
// bytes.
const maxChecksumLine = 4096

// ParseChecksums reads a sha256sum-style list ("<hex>  <name>" per line,
// "<hex> *<name>" in binary mode) into a map from name to lowercase hex
// digest. Blank lines are skipped; a malformed line or a name listed twice
// with different digests is an error naming the line.
func ParseChecksums(r io.Reader) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxChecksumLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimLeft(name, " \t"), "*")
		sum = strings.ToLower(sum)
		if !ok || name == "" || !digest.IsSHA256Hex(sum) {
			return nil, fmt.Errorf("checksum list line %d %q: want \"<sha256>  <name>\"", n, clip(line))
		}
		if prev, dup := sums[name]; dup && prev != sum {
			return nil, fmt.Errorf("checksum list line %d: %s listed twice with different digests", n, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read checksum list: %w", err)
	}
	return sums, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxTokenSize bounds a token file (4 KiB).
const maxTokenSize = 4 << 10

// TokenFile is the path of the cluster's token file: token.file relative to
// the cluster file's directory, by default NAME.token beside it.
func (c *Cluster) TokenFile() string {
	f := c.Token.File
	if f == "" {
		return defaultTokenFile(c)
	}
	return c.resolve(f)
}

func defaultTokenFile(c *Cluster) string {
	name := c.Metadata.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(c.Path), filepath.Ext(c.Path))
	}
	return filepath.Join(c.Dir, name+".token")
}

// resolve makes p relative to the cluster file's directory and expands a
// leading ~/.
func (c *Cluster) resolve(p string) string {
	if p == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// LoadToken returns the cluster token: an inventory's token var, else the
// token file's content. When the file is missing it is created with mode
// 0600 holding 32 random bytes in hex (unless create is false, as in a dry
// run: then it returns "" and created true). A token file that others can
// read is refused.
func (c *Cluster) LoadToken(create bool) (token string, created bool, err error) {
	if c.Token.Value != "" {
		return c.Token.Value, false, nil
	}
	path := c.TokenFile()
	b, err := readToken(path)
	if err == nil {
		return b, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	if !create {
		return "", true, nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generate the cluster token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("create token file: %w", err)
	}
	_, werr := f.WriteString(tok + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("write token file %s: %w", path, err)
	}
	return tok, true, nil
}

func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %v: others can read the cluster secret: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if fi.Size() > maxTokenSize {
		return "", fmt.Errorf("token file %s is larger than %d bytes: it holds one token", path, maxTokenSize)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("token file %s: must hold one token on one line", path)
	}
	return tok, nil
}

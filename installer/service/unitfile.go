package service

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// unitSpec is what Exec needs from a systemd service unit.
type unitSpec struct {
	// Argv is the last ExecStart= command line, split into words.
	Argv []string
	// Env holds Environment= assignments, KEY=VALUE.
	Env []string
	// EnvFiles are the EnvironmentFile= paths in order.
	EnvFiles []envFile
}

type envFile struct {
	Path     string
	Optional bool // "-" prefix: a missing file is not an error
}

// parseUnit reads the [Service] section of a unit file. Continuation lines
// (a trailing backslash) are joined; an empty ExecStart= resets the list,
// as systemd does in drop-ins.
func parseUnit(b []byte) (unitSpec, error) {
	var u unitSpec
	section := ""
	for _, line := range unitLines(b) {
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if section != "Service" {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "ExecStart":
			if val == "" {
				u.Argv = nil
				continue
			}
			words, err := splitWords(strings.TrimLeft(val, "-@:+!"))
			if err != nil {
				return u, fmt.Errorf("ExecStart=%s: %w", val, err)
			}
			u.Argv = words
		case "Environment":
			words, err := splitWords(val)
			if err != nil {
				return u, fmt.Errorf("unit line Environment=%s: %w", val, err)
			}
			u.Env = append(u.Env, words...)
		case "EnvironmentFile":
			u.EnvFiles = append(u.EnvFiles, envFile{Path: strings.TrimPrefix(val, "-"), Optional: strings.HasPrefix(val, "-")})
		}
	}
	if len(u.Argv) == 0 {
		return u, fmt.Errorf("no ExecStart= in [Service]")
	}
	return u, nil
}

// unitLines returns the unit's logical lines without comments and blanks.
func unitLines(b []byte) []string {
	var lines []string
	var cur strings.Builder
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if cur.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`))
			cur.WriteByte(' ')
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// splitWords splits a command line on spaces, honouring single and double
// quotes and backslash escapes inside double quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == '"' && c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
		case quote != 0:
			w.WriteByte(c)
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// parseEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile= does:
// blank lines and # or ; comments are skipped, and one pair of surrounding
// quotes is removed from the value.
func parseEnvFile(b []byte) []string {
	var env []string
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env = append(env, strings.TrimSpace(k)+"="+v)
	}
	return env
}

package manifests

import (
	"net/url"
	"strings"
)

// redacted replaces a secret in a recorded or printed value.
const redacted = "xxxxx"

// secretParams are query parameters whose value is a secret (lower case;
// any name containing "password" counts too).
var secretParams = map[string]bool{"pass": true, "passwd": true, "pwd": true, "secret": true, "token": true, "sslpassword": true}

// Redact returns s (a URL or URI: --server, --registry-mirror,
// --datastore-endpoint) with the password of any user:password and the
// values of password-like query parameters replaced by "xxxxx". A value
// that does not parse as a URL but holds an '@' (a DSN with a password
// before it) becomes "(redacted)".
func Redact(s string) string {
	if s == "" {
		return ""
	}
	const noScheme = "ferry-no-scheme://"
	raw := s
	if !strings.Contains(s, "://") {
		raw = noScheme + s // host[:port] with user:password@ before it
	}
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(s, "@?") {
			return "(redacted)"
		}
		return s
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			lk := strings.ToLower(k)
			if secretParams[lk] || strings.Contains(lk, "password") {
				q[k] = []string{redacted}
			}
		}
		u.RawQuery = q.Encode()
	}
	return strings.TrimPrefix(u.String(), noScheme)
}

// IsRedacted reports whether s, a recorded value, lost a secret to Redact.
func IsRedacted(s string) bool {
	return s == "(redacted)" || strings.Contains(s, redacted)
}

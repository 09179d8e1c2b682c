package deploy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostKeyError is a host whose key is not in known_hosts. Deploy
// refuses it unless --accept-new-host-keys.
type UnknownHostKeyError struct {
	Host        string // as known_hosts writes it: HOST or [HOST]:PORT
	Fingerprint string // SHA256:...
	KnownHosts  string
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s is unknown (%s is not in %s): check it on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then add it to %s or rerun with --accept-new-host-keys",
		e.Host, e.Fingerprint, e.KnownHosts, e.KnownHosts)
}

// HostKeyMismatchError is a host that offered another key than the one
// known_hosts holds for it: never accepted.
type HostKeyMismatchError struct {
	Host        string
	Fingerprint string
	KnownHosts  string
	Line        int
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("HOST KEY OF %s HAS CHANGED: it offered %s, which does not match %s:%d: someone may be intercepting the connection; if the host was reinstalled, remove the old line (ssh-keygen -R %s -f %s)",
		e.Host, e.Fingerprint, e.KnownHosts, e.Line, e.Host, e.KnownHosts)
}

// knownHostsFile checks host keys against one known_hosts file and, when
// acceptNew, appends keys of hosts it has no line for. One per file:
// appends are serialized.
type knownHostsFile struct {
	path      string
	acceptNew bool
	mu        sync.Mutex
}

// knownHostsFiles keeps one knownHostsFile per path.
type knownHostsFiles struct {
	acceptNew bool
	mu        sync.Mutex
	files     map[string]*knownHostsFile
}

func (k *knownHostsFiles) get(path string) *knownHostsFile {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.files == nil {
		k.files = map[string]*knownHostsFile{}
	}
	f := k.files[path]
	if f == nil {
		f = &knownHostsFile{path: path, acceptNew: k.acceptNew}
		k.files[path] = f
	}
	return f
}

// load reads the file; a missing file holds no keys.
func (k *knownHostsFile) load() (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(k.path); errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(k.path)
	if err != nil {
		return nil, fmt.Errorf("read known hosts %s: %w", k.path, err)
	}
	return cb, nil
}

// algorithms returns the key types known_hosts holds for addr, so that
// the server is asked for a key that can be checked; nil when none.
func (k *knownHostsFile) algorithms(addr string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	cb, err := k.load()
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{}, probeKey{}); !errors.As(err, &ke) {
		return nil
	}
	var algs []string
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algs = append(algs, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algs = append(algs, t)
		}
	}
	return algs
}

// callback is the ssh.HostKeyCallback for hosts dialled as addr.
func (k *knownHostsFile) callback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		cb, err := k.load()
		if err != nil {
			return err
		}
		err = cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if err == nil || !errors.As(err, &ke) {
			return err
		}
		host := knownhosts.Normalize(hostname)
		fp := ssh.FingerprintSHA256(key)
		if len(ke.Want) > 0 {
			return &HostKeyMismatchError{Host: host, Fingerprint: fp, KnownHosts: k.path, Line: ke.Want[0].Line}
		}
		if !k.acceptNew {
			return &UnknownHostKeyError{Host: host, Fingerprint: fp, KnownHosts: k.path}
		}
		return k.appendKey(host, key)
	}
}

func (k *knownHostsFile) appendKey(host string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("record host key of %s: %w", host, err)
	}
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key of %s: %w", host, err)
	}
	_, werr := fmt.Fprintln(f, knownhosts.Line([]string{host}, key))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("record host key of %s in %s: %w", host, k.path, err)
	}
	return nil
}

// probeKey is a key no host has: checking it lists the known keys.
type probeKey struct{}

func (probeKey) Type() string                        { return "ferry-probe" }
func (probeKey) Marshal() []byte                     { return []byte("ferry-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

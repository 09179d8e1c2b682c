package deploy

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// LogDir is where the hosts' logs of the cluster file at path go:
// cluster.yaml.logs beside it.
func LogDir(path string) string { return path + ".logs" }

// hostLog is one host's full log (LogDir/HOST.log): every command run,
// everything it printed, and each step's start and end, each line stamped
// with the UTC time in RFC 3339 with microseconds. Events (not command
// output) are copied to the console with the host's name.
type hostLog struct {
	id      string
	mu      sync.Mutex
	f       *os.File // nil: no file (dry run)
	console io.Writer
	partial []byte
	// secret is replaced by "<token>" in every line: a first server's
	// ferry-install prints join commands that carry the token.
	secret string
}

func (l *hostLog) redact(s string) string {
	if l.secret == "" {
		return s
	}
	return strings.ReplaceAll(s, l.secret, "<token>")
}

// openHostLog opens (appending) dir/id.log; dir is created 0700 since
// logs may name the site's addresses and paths (never the token).
func openHostLog(dir, id string, console io.Writer) (*hostLog, error) {
	l := &hostLog{id: id, console: console}
	if dir == "" {
		return l, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, id+".log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open host log: %w", err)
	}
	l.f = f
	return l, nil
}

func stamp() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000Z") }

// event logs one line and, when console, copies it to the console.
func (l *hostLog) event(msg string, console bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushPartial()
	msg = l.redact(msg)
	if l.f != nil {
		fmt.Fprintf(l.f, "%s == %s\n", stamp(), msg)
	}
	if console && l.console != nil {
		fmt.Fprintf(l.console, "%s: %s\n", l.id, msg)
	}
}

// Write logs command output, stamping each line.
func (l *hostLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return len(p), nil
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(l.f, "%s | %s\n", stamp(), l.redact(string(l.partial[:i])))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

func (l *hostLog) flushPartial() {
	if len(l.partial) > 0 && l.f != nil {
		fmt.Fprintf(l.f, "%s | %s\n", stamp(), l.redact(string(l.partial)))
	}
	l.partial = nil
}

// Close flushes and closes the file.
func (l *hostLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushPartial()
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

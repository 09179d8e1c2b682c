package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-k3s/ferry/bundle/builder"
)

// syncBuffer is a bytes.Buffer safe for the drawing goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The downloads that run at once share one bar, their bytes summed; a log
// line written meanwhile stands on a line of its own; the write gets a bar
// of its own.
func TestProgressUI(t *testing.T) {
	var out syncBuffer
	u := newProgressUI(&out)
	// waitFor waits (boundedly) until the bar has drawn want.
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the bar never showed %q; output: %q", want, out.String())
			}
		}
	}
	u.events <- builder.Event{Stage: builder.StageDownload, Name: "https://x/k3s", Done: 3000, Total: 10000}
	waitFor("3.0/10 kB")
	u.events <- builder.Event{Stage: builder.StageImages, Name: "nginx", Done: 5000, Total: 20000}
	waitFor("8.0/30 kB")
	u.Write([]byte("chart longhorn 1.7.2\n"))
	u.events <- builder.Event{Stage: builder.StageDownload, Name: "https://x/k3s", Done: 10000, Total: 10000}
	waitFor("15/30 kB")
	u.events <- builder.Event{Stage: builder.StageWrite, Name: "k3s/amd64/k3s", Done: 1000, Total: 40000}
	waitFor("1.0/40 kB")
	u.stop()
	got := out.String()
	ansi := regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	var lines []string
	for _, l := range strings.FieldsFunc(ansi.ReplaceAllString(got, ""), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	has := func(pred func(string) bool) bool {
		for _, l := range lines {
			if pred(l) {
				return true
			}
		}
		return false
	}
	if !has(func(l string) bool { return l == "chart longhorn 1.7.2" }) {
		t.Errorf("the log line does not stand alone; lines: %q", lines)
	}
	if !has(func(l string) bool {
		return strings.HasPrefix(l, "pull images (+1)") && strings.Contains(l, "8.0/30 kB")
	}) {
		t.Errorf("no downloads bar summing both downloads (8.0/30 kB, pull images (+1)); lines: %q", lines)
	}
	if !has(func(l string) bool { return strings.HasPrefix(l, "write bundle") && strings.Contains(l, "/40 kB") }) {
		t.Errorf("no write bar of its own; lines: %q", lines)
	}
}

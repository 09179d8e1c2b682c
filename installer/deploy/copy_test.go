package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testHostFor is a Host on the test sshd with its work directory in a
// temporary directory.
func testHostFor(t *testing.T, s *testSSHD) *Host {
	t.Helper()
	h := &Host{ID: "h", WorkDir: filepath.Join(t.TempDir(), "work"), Endpoint: s.endpoint(), dialer: &Dialer{}, log: &hostLog{id: "h"}}
	t.Cleanup(h.close)
	return h
}

// TestSendFileResumes checks the copy over a real sshd: a cut copy
// (the partial file a cut transfer leaves) is resumed from where it ends,
// a partial copy with wrong bytes is sent again from the start, and a
// file the host holds already is not sent at all.
func TestSendFileResumes(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	ctx := context.Background()
	data := make([]byte, 1<<20+123)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "bundle.ferry")
	os.WriteFile(src, data, 0o644)
	lf, err := hashFile(ctx, src, "bundle.ferry", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	const cut = 300 << 10
	tests := []struct {
		name    string
		partial []byte
		want    int64 // bytes sent
	}{
		{"cut copy resumes", data[:cut], int64(len(data) - cut)},
		{"damaged partial starts over", make([]byte, cut), int64(len(data)-cut) + int64(len(data))},
		{"longer partial starts over", append(append([]byte{}, data...), 'x'), int64(len(data))},
		{"fresh copy", nil, int64(len(data))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHostFor(t, s)
			dest := filepath.Join(h.WorkDir, "bundle.ferry")
			if tt.partial != nil {
				os.MkdirAll(h.WorkDir, 0o755)
				os.WriteFile(dest+".partial", tt.partial, 0o644)
			}
			if err := sendFile(ctx, h, lf, 0); err != nil {
				t.Fatal(err)
			}
			if got := h.BytesSent(); got != tt.want {
				t.Errorf("sent %d bytes, want %d", got, tt.want)
			}
			got, err := os.ReadFile(dest)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("the host's copy differs (%d bytes, %v)", len(got), err)
			}
			if _, err := os.Stat(dest + ".partial"); !os.IsNotExist(err) {
				t.Errorf("the partial copy is left: %v", err)
			}
			before := h.BytesSent()
			if err := sendFile(ctx, h, lf, 0); err != nil {
				t.Fatal(err)
			}
			if h.BytesSent() != before {
				t.Errorf("the same file was sent again: %d more bytes", h.BytesSent()-before)
			}
		})
	}
}

func TestSendSecret(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	h := testHostFor(t, s)
	if err := sendSecret(context.Background(), h, tokenName, []byte("s3cret\n")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(h.WorkDir, tokenName)
	if b, _ := os.ReadFile(p); string(b) != "s3cret\n" || fileMode(t, p) != 0o600 {
		t.Fatalf("token %q mode %v", b, fileMode(t, p))
	}
}

// TestSendFileCutResumes cuts a real copy by its timeout, then resumes it:
// the second run sends exactly the bytes the host does not hold yet.
func TestSendFileCutResumes(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	s := startSSHD(t)
	ctx := context.Background()
	data := make([]byte, 64<<20)
	rand.Read(data)
	src := filepath.Join(t.TempDir(), "big.ferry")
	os.WriteFile(src, data, 0o644)
	lf, err := hashFile(ctx, src, "big.ferry", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	h := testHostFor(t, s)
	dest := filepath.Join(h.WorkDir, "big.ferry")
	if err := sendFile(ctx, h, lf, 300*time.Millisecond); err == nil {
		t.Skip("the copy finished within the cut; nothing to resume on this machine")
	}
	var partial int64
	if fi, err := os.Stat(dest + ".partial"); err == nil {
		partial = fi.Size()
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("a cut copy is in place: %v", err)
	}
	before := h.BytesSent()
	if err := sendFile(ctx, h, lf, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := h.BytesSent()-before, int64(len(data))-partial; got != want {
		t.Errorf("the resume sent %d bytes, want %d (the host held %d)", got, want, partial)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the resumed copy differs (%d bytes, %v)", len(got), err)
	}
	t.Logf("cut after %d of %d bytes; the resume sent the rest", partial, len(data))
}

func TestProgressEvents(t *testing.T) {
	ch := make(chan Event, 1)
	h := &Host{ID: "h", events: eventSink{ch}, step: "copy"}
	h.sent.Add(42)
	h.progress()
	h.progress() // within progressEvery: none
	e := <-ch
	if e.Host != "h" || e.Step != "copy" || e.State != "progress" || e.BytesSent != 42 {
		t.Fatalf("event %+v", e)
	}
	select {
	case e := <-ch:
		t.Fatalf("a second event within %s: %+v", progressEvery, e)
	default:
	}
	h.lastProgress.Store(0)
	ch <- Event{} // a receiver that is not ready: the event is dropped, the copy goes on
	h.progress()
	if e := <-ch; e.State != "" {
		t.Fatalf("event %+v", e)
	}
}

package stall

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTransport: a response that stalls before its headers or in its body
// fails with an *Error (a net.Error timeout; in the body, inside a
// *BodyError); one that keeps sending, however slowly, passes.
func TestTransport(t *testing.T) {
	const after = 200 * time.Millisecond
	tests := []struct {
		name     string
		handler  func(w http.ResponseWriter, r *http.Request)
		wantBody bool // the stall comes in the body
		ok       bool
	}{
		{name: "no headers", handler: func(w http.ResponseWriter, r *http.Request) { hang(r) }},
		{name: "headers then nothing", wantBody: true, handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			hang(r)
		}},
		{name: "slow but steady", ok: true, handler: func(w http.ResponseWriter, r *http.Request) {
			for range 8 { // 8 x after/4: longer than after in all
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				time.Sleep(after / 4)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tt.handler))
			t.Cleanup(srv.Close)
			c := &http.Client{Transport: &Transport{After: after}}
			var body []byte
			resp, err := c.Get(srv.URL)
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if tt.ok {
				if err != nil || string(body) != "xxxxxxxx" {
					t.Fatalf("got %q, %v; want 8 bytes", body, err)
				}
				return
			}
			var se *Error
			var ne net.Error
			if !errors.As(err, &se) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("error %v, want a stall *Error that is a net.Error timeout", err)
			}
			if IsBrokenBody(err) != tt.wantBody {
				t.Fatalf("IsBrokenBody = %v, want %v", IsBrokenBody(err), tt.wantBody)
			}
			if !strings.Contains(err.Error(), "sent nothing for 200ms (stall timeout)") {
				t.Fatalf("error %q does not say what happened", err)
			}
		})
	}
}

// hang holds a request open until the client goes away (or 10 s pass).
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

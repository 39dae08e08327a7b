package testcaddy

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// SyncBuffer is a bytes.Buffer that a process's stdout and stderr (or any
// goroutines) may write to while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail returns the last n bytes of s, marked with a leading "…" when it
// cut anything.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// WaitFor polls cond every 10 ms until it holds, and fails the test if it
// does not within timeout; what names the awaited condition.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NoKeepAliveClient returns a client that opens a connection per request
// and waits at most 15 s for an answer's headers. A reload shuts the old
// server's idle connections, and a request on one of those would fail in
// the client's transport, which is not what a test of the reload is about.
func NoKeepAliveClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.ResponseHeaderTimeout = 15 * time.Second
	return &http.Client{Transport: tr}
}

// Bearer is an http.RoundTripper that sends every request through Base
// with "Authorization: Bearer <Token>".
type Bearer struct {
	Token string
	Base  http.RoundTripper
}

// RoundTrip sends a copy of r that carries the token.
func (b Bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.Token)
	return b.Base.RoundTrip(r)
}

// StatusWriter wraps a backend's http.ResponseWriter to learn the status
// of its answer: OnStatus is called once, with the first status the
// handler writes (200 for a Write without WriteHeader), before that
// status is sent. It keeps http.Flusher working (MCP SDKs flush SSE
// events) and unwraps for http.ResponseController.
type StatusWriter struct {
	http.ResponseWriter
	OnStatus func(code int)
	once     sync.Once
}

// WriteHeader reports code (if it is the first) and writes it.
func (w *StatusWriter) WriteHeader(code int) {
	w.note(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write reports 200 (if no status was written yet) and writes p.
func (w *StatusWriter) Write(p []byte) (int, error) {
	w.note(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

func (w *StatusWriter) note(code int) { w.once.Do(func() { w.OnStatus(code) }) }

// Flush flushes the wrapped writer if it can.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

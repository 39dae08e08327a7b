package hostile

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// matrixBackend is the matrix's upstream: the counting, recording backend
// of harness_test.go behind a handler that also records the request
// trailers that reached it. Trailers arrive only once the body has been
// read to its end, which the recorder does before the backend answers;
// the backend then reads the same bytes.
type matrixBackend struct {
	*backend
	mu       sync.Mutex
	trailers []http.Header // one entry per request, in arrival order
}

func newMatrixBackend(t testing.TB) *matrixBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb := &matrixBackend{backend: &backend{ln: ln, track: true}}
	mb.srv = &http.Server{Handler: http.HandlerFunc(mb.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = mb.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = mb.srv.Shutdown(ctx)
		_ = mb.srv.Close()
	})
	return mb
}

func (mb *matrixBackend) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body) // to EOF: the trailers are in r.Trailer now
	tr := http.Header{}
	for k, vs := range r.Trailer {
		if len(vs) > 0 {
			tr[k] = vs
		}
	}
	if vs := r.Header.Values("Trailer"); len(vs) > 0 {
		tr["(declared) Trailer"] = vs
	}
	mb.mu.Lock()
	mb.trailers = append(mb.trailers, tr)
	mb.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	mb.ServeHTTP(w, r)
}

// trailersSince returns the non-empty trailer sets of the requests after
// the first n.
func (mb *matrixBackend) trailersSince(n int) []http.Header {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out []http.Header
	for i := n; i < len(mb.trailers); i++ {
		if len(mb.trailers[i]) > 0 {
			out = append(out, mb.trailers[i])
		}
	}
	return out
}

func (mb *matrixBackend) arrived() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.trailers)
}

// TestMatrixBackendSeesTrailers proves the matrix's trailer oracle can
// fail: a chunked request with trailers sent straight to the backend (no
// Caddy in between) is recorded with them, declared or not.
func TestMatrixBackendSeesTrailers(t *testing.T) {
	mb := newMatrixBackend(t)
	body := []byte(call("echo"))
	for _, declared := range []bool{false, true} {
		h := hdrs{ctJSON, "Transfer-Encoding: chunked"}
		if declared {
			h = append(h, "Trailer: X-MCP-User")
		}
		raw := build("POST", "/mcp", h, withTrailers(chunked(body, 16), "X-MCP-User: token:alice", auth(aliceTok)))
		n := mb.arrived()
		res, err := rawDo(mb.addr(), "POST", raw, nil, 5*time.Second)
		if err != nil || res.status != 200 {
			t.Fatalf("direct request: status %d, %v", res.status, err)
		}
		got := mb.trailersSince(n)
		if len(got) != 1 || got[0].Get("X-Mcp-User") != "token:alice" || !strings.Contains(got[0].Get("Authorization"), aliceTok) {
			t.Fatalf("declared=%v: the backend recorded trailers %v; want X-MCP-User and Authorization", declared, got)
		}
	}
}

// withTrailers puts trailer fields after the last chunk of a chunked body.
func withTrailers(chunkedBody []byte, fields ...string) []byte {
	b := bytes.TrimSuffix(chunkedBody, []byte("\r\n"))
	for _, f := range fields {
		b = append(b, f...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

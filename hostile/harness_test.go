// Package hostile drives a real Caddy process, built from cmd/caddy with
// mcp_auth, with hostile requests, reloads under load and backend faults.
//
// Every test here talks to a separate Caddy process (not the in-process
// caddytest server): a process can be reloaded, stopped and inspected
// (its log, its goroutines through the admin endpoint's pprof) like the
// one in production. Each process gets free loopback ports for HTTP and
// admin and a temporary storage, config and data directory, so the tests
// share nothing with the integration package or with each other.
package hostile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

var update = flag.Bool("update", false, "rewrite hostile/MATRIX.md from the matrix")

func TestMain(m *testing.M) { os.Exit(testcaddy.Run(m, "hostile")) }

// startCaddy runs Caddy with the given site blocks ({PORT} stands for the
// HTTP port) and extra global options, and waits until its admin endpoint
// answers and its HTTP port accepts connections. Each process has its own
// storage and a 5 s grace period; it is stopped with SIGINT when the test
// ends (killed, failing the test, after 15 s), and a panic in its output
// fails the test.
func startCaddy(t testing.TB, global, sites string, env ...string) *testcaddy.Caddy {
	t.Helper()
	return testcaddy.Start(t, testcaddy.Options{
		Global:      "\tstorage file_system " + t.TempDir() + "\n\tgrace_period 5s\n" + global,
		Sites:       sites,
		Env:         env,
		FailOnPanic: true,
	})
}

// seenRequest is what reached the backend.
type seenRequest struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// backend is an in-process upstream on loopback that counts and records
// what reaches it. Paths choose a behaviour:
//
//	/slow…       answers after 3 s (or when the request ends)
//	/sse-reset…  starts an SSE stream, sends one event, then resets the TCP connection
//	GET with Accept: text/event-stream: an SSE stream with an event every 100 ms until the request ends
//	else         a JSON-RPC result (with "tools":[] for tools/list)
type backend struct {
	ln    net.Listener
	srv   *http.Server
	n     atomic.Int64
	mu    sync.Mutex
	reqs  []seenRequest
	track bool // record every request (off under load)
}

func newBackend(t testing.TB, track bool) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{ln: ln, track: track}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = b.srv.Shutdown(ctx)
		_ = b.srv.Close()
	})
	return b
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) count() int64 { return b.n.Load() }

// since returns the requests recorded after the first n.
func (b *backend) since(n int) []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > len(b.reqs) {
		return nil
	}
	return append([]seenRequest(nil), b.reqs[n:]...)
}

func (b *backend) recorded() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.n.Add(1)
	if b.track {
		b.mu.Lock()
		b.reqs = append(b.reqs, seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		b.mu.Unlock()
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/slow"):
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
			return
		}
	case strings.HasPrefix(r.URL.Path, "/sse-reset"):
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n")
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		_ = conn.Close()
		return
	case r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := fmt.Fprintf(w, "id: %d\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"n\":%d}}\n\n", i, i); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if bytes.Contains(body, []byte(`"tools/list"`)) {
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}`)
		return
	}
	_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
}

// rawResult is the answer to a raw request.
type rawResult struct {
	status   int // 0 when the connection closed without an answer
	interim  []int
	header   http.Header
	body     []byte
	proto    string
	elapsed  time.Duration
	firstRaw string // the status line as sent
}

// rawDo sends raw bytes (or runs write) on a fresh TCP connection and reads
// one final response (after any 1xx). method tells the reader whether the
// response has a body (HEAD).
func rawDo(addr string, method string, raw []byte, write func(net.Conn) error, timeout time.Duration) (rawResult, error) {
	var res rawResult
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	werr := make(chan error, 1)
	go func() {
		if write != nil {
			werr <- write(conn)
			return
		}
		_, err := conn.Write(raw)
		werr <- err
	}()
	br := bufio.NewReader(conn)
	if line, err := br.Peek(12); err == nil {
		res.firstRaw = string(line)
	}
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			res.elapsed = time.Since(start)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return res, nil // closed without an answer: status 0
			}
			return res, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 {
			res.interim = append(res.interim, resp.StatusCode)
			continue
		}
		res.status = resp.StatusCode
		res.header = resp.Header
		res.proto = resp.Proto
		res.body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		res.elapsed = time.Since(start)
		return res, nil
	}
}

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
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite hostile/MATRIX.md from the matrix")

// caddyBin is the Caddy binary built once by TestMain.
var caddyBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "mcp-auth-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile: temp dir:", err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBin, "github.com/caddy-mcp-auth/caddy-mcp-auth/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile: building Caddy with mcp_auth failed:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "hostile: built %s in %s\n", caddyBin, time.Since(start).Round(time.Millisecond))
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a process's output.
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

// caddyProc is a running Caddy process.
type caddyProc struct {
	t        testing.TB
	cmd      *exec.Cmd
	dir      string
	port     int    // HTTP
	admin    string // host:port of the admin endpoint
	global   string // extra global options
	out      *syncBuffer
	exited   chan struct{}
	stopOnce sync.Once
}

// base is the HTTP origin of the site.
func (c *caddyProc) base() string { return fmt.Sprintf("http://127.0.0.1:%d", c.port) }

// addr is the host:port of the site.
func (c *caddyProc) addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// caddyfile wraps site blocks (with %[1]d standing for the HTTP port) in
// the global options every process here uses.
func (c *caddyProc) caddyfile(sites string) string {
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	auto_https off
	storage file_system %s
	grace_period 5s
%s}
`, c.admin, filepath.Join(c.dir, "storage"), c.global) + strings.ReplaceAll(sites, "{PORT}", strconv.Itoa(c.port))
}

// startCaddy runs Caddy with the given site blocks ({PORT} stands for the
// HTTP port) and extra global options, and waits until it answers.
func startCaddy(t testing.TB, global, sites string, env ...string) *caddyProc {
	t.Helper()
	dir := t.TempDir()
	c := &caddyProc{
		t:      t,
		dir:    dir,
		port:   freePort(t),
		admin:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		global: global,
		out:    &syncBuffer{},
		exited: make(chan struct{}),
	}
	cfgPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(c.caddyfile(sites)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(caddyBin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	c.cmd.Dir = dir
	c.cmd.Env = append([]string{
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"PATH=" + os.Getenv("PATH"),
	}, env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); close(c.exited) }()
	t.Cleanup(c.stop)

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("Caddy exited at start:\n%s", c.out.String())
		default:
		}
		resp, err := http.Get("http://" + c.admin + "/config/")
		if err == nil {
			resp.Body.Close()
			if conn, err := net.DialTimeout("tcp", c.addr(), time.Second); err == nil {
				conn.Close()
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Caddy did not come up in 30s:\n%s", c.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the process (SIGINT, then SIGKILL after 15 s) and fails the
// test if its output shows a panic.
func (c *caddyProc) stop() {
	c.stopOnce.Do(func() {
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
			c.t.Errorf("Caddy did not stop within 15s of SIGINT")
		}
		if out := c.out.String(); strings.Contains(strings.ToLower(out), "panic") {
			c.t.Errorf("Caddy's output mentions a panic:\n%s", tail(out, 8000))
		}
	})
}

// reload loads new site blocks through the admin API (POST /load with
// the Caddyfile adapter). force makes Caddy reload even when the adapted
// JSON did not change (as `caddy reload --force` does).
func (c *caddyProc) reload(sites string, force bool) error {
	req, err := http.NewRequest(http.MethodPost, "http://"+c.admin+"/load", strings.NewReader(c.caddyfile(sites)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	if force {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /load: %d %s", resp.StatusCode, body)
	}
	return nil
}

var goroutineTotal = regexp.MustCompile(`goroutine profile: total (\d+)`)

// goroutines reads the process's goroutine count from the admin endpoint's
// /debug/pprof/goroutine?debug=1, and the profile itself.
func (c *caddyProc) goroutines() (int, string, error) {
	resp, err := http.Get("http://" + c.admin + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	m := goroutineTotal.FindSubmatch(b)
	if m == nil {
		return 0, "", fmt.Errorf("no goroutine total in %q", tail(string(b), 200))
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, string(b), nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
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

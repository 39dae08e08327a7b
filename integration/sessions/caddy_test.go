// Package sessions_test proves what session binding and stream handling
// promise across config reloads and Caddy instances, with real Caddy
// processes (built once from ./cmd/caddy) in front of one real go-sdk MCP
// server. Unlike the caddytest suite in ../, every Caddy here is its own
// process on free loopback ports with its own admin endpoint, so it can be
// reloaded with `caddy reload` and stopped; a missing prerequisite (Go
// toolchain, build, port, start) fails the tests, never skips them.
package sessions_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// caddyBin is the Caddy built by TestMain.
var caddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcp-auth-sessions-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessions: temp dir:", err)
		os.Exit(1)
	}
	caddyBin = filepath.Join(dir, "caddy")
	start := time.Now()
	build := exec.Command("go", "build", "-o", caddyBin, "github.com/caddy-mcp-auth/caddy-mcp-auth/cmd/caddy")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "sessions: building Caddy (go build ./cmd/caddy) failed, so every test here fails:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "sessions: built %s in %v\n", caddyBin, time.Since(start).Round(time.Millisecond))
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// caddyProc is one running Caddy process.
type caddyProc struct {
	name     string
	cmd      *exec.Cmd
	admin    string // 127.0.0.1:port
	port     int    // HTTP port of the MCP site
	cfgPath  string
	log      *syncBuffer
	exited   chan struct{}
	exitErr  error
	dataHome string
}

// Endpoint is the MCP endpoint through this Caddy.
func (c *caddyProc) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d/mcp", c.port) }

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

// procOpts says how to start a Caddy.
type procOpts struct {
	name string
	// dataHome is XDG_DATA_HOME (Caddy's storage is $XDG_DATA_HOME/caddy):
	// two processes given the same one share the storage, and with it the
	// default session key. Empty: a directory of its own.
	dataHome string
	env      []string // extra environment, e.g. MCP_SESSION_KEY=…
	site     siteOpts
}

// startCaddy runs `caddy run` with a Caddyfile for opts and waits until the
// site answers; the process is stopped when the test ends.
func startCaddy(t *testing.T, o procOpts) *caddyProc {
	t.Helper()
	dir := t.TempDir()
	if o.dataHome == "" {
		o.dataHome = filepath.Join(dir, "data")
	}
	c := &caddyProc{
		name:     o.name,
		admin:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		port:     freePort(t),
		cfgPath:  filepath.Join(dir, "Caddyfile"),
		log:      &syncBuffer{},
		exited:   make(chan struct{}),
		dataHome: o.dataHome,
	}
	c.writeConfig(t, o.site)
	c.cmd = exec.Command(caddyBin, "run", "--config", c.cfgPath, "--adapter", "caddyfile")
	c.cmd.Dir = dir
	c.cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_DATA_HOME=" + o.dataHome,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
	}, o.env...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: starting %s: %v", o.name, caddyBin, err)
	}
	go func() {
		c.exitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.stop(t) })

	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("%s: Caddy exited at start (%v):\n%s", o.name, c.exitErr, c.log.String())
		default:
		}
		resp, err := http.Post(c.Endpoint(), "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized { // mcp_auth is in place
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the MCP site on %s did not answer 401 within 20s (last: %v):\n%s", o.name, c.Endpoint(), err, c.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeConfig writes the Caddyfile for s.
func (c *caddyProc) writeConfig(t *testing.T, s siteOpts) {
	t.Helper()
	cfg := fmt.Sprintf(`{
	admin %s
	http_port %d
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	skip_install_trust
}
http://127.0.0.1:%d {
%s	reverse_proxy %s
}
`, c.admin, c.port, c.port, s.mcpAuth(), s.backend)
	if err := os.WriteFile(c.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// reload writes the Caddyfile for s and applies it with `caddy reload
// --force` through the admin endpoint; it returns when the reload command
// has returned (Caddy answers it once the new config runs).
func (c *caddyProc) reload(t *testing.T, s siteOpts) {
	t.Helper()
	c.writeConfig(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, "reload", "--config", c.cfgPath, "--adapter", "caddyfile",
		"--address", c.admin, "--force")
	cmd.Env = c.cmd.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: caddy reload: %v\n%s\nserver log:\n%s", c.name, err, out, c.log.String())
	}
	c.settle(t)
}

// settle waits until the new config's server alone accepts connections.
// Caddy hands the listening socket from the old server to the new one;
// for a moment after the reload returns, the old server, shutting down,
// may still accept a connection and then close it unanswered (seen as EOF
// on a new connection, about once in 40 runs under load: a Caddy/net/http
// handover race, not mcp_auth's). Five answered requests in a row, each on
// a new connection, end the wait; the transport errors seen are logged.
func (c *caddyProc) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	ok, failures := 0, 0
	for ok < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the site did not answer 5 requests in a row within 10s of the reload (%d transport errors)", c.name, failures)
		}
		resp, err := noKeepAlive().Post(c.Endpoint(), "application/json", strings.NewReader(`{}`))
		if err != nil {
			failures++
			ok = 0
			t.Logf("%s: right after the reload: %v", c.name, err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: unauthenticated POST after the reload: status %d, want 401", c.name, resp.StatusCode)
		}
		ok++
	}
}

// stop asks Caddy to stop through its admin endpoint and kills it (this
// process only, by its id) if it has not exited within 10s.
func (c *caddyProc) stop(t *testing.T) {
	select {
	case <-c.exited:
		return
	default:
	}
	if resp, err := http.Post("http://"+c.admin+"/stop", "", nil); err == nil {
		resp.Body.Close()
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		t.Logf("%s: Caddy did not stop within 10s; killing pid %d", c.name, c.cmd.Process.Pid)
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	if t.Failed() {
		t.Logf("%s: Caddy log:\n%s", c.name, tail(c.log.String(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// siteOpts is the mcp_auth block of a Caddy.
type siteOpts struct {
	backend string   // host:port of the MCP server
	tokens  []string // names among alice (admin), bob, carol (reader)
	envKey  bool     // session_key {env.MCP_SESSION_KEY}; else the default key in storage
}

var tokenLines = map[string]string{
	"alice": "token alice alice-secret-token admin",
	"bob":   "token bob   bob-secret-token   reader",
	"carol": "token carol carol-secret-token reader",
}

var tokenSecret = map[string]string{
	"alice": "alice-secret-token",
	"bob":   "bob-secret-token",
	"carol": "carol-secret-token",
}

func (s siteOpts) mcpAuth() string {
	var b strings.Builder
	b.WriteString("\tmcp_auth {\n")
	for _, n := range s.tokens {
		b.WriteString("\t\t" + tokenLines[n] + "\n")
	}
	b.WriteString(`		role admin {
			allow *
		}
		role reader {
			allow tools/call echo
		}
`)
	if s.envKey {
		b.WriteString("\t\tsession_key {env.MCP_SESSION_KEY}\n")
	}
	b.WriteString("\t}\n")
	return b.String()
}

// rawResponse is an answer read whole.
type rawResponse struct {
	Status int
	Header http.Header
	Body   string
}

// post sends one JSON-RPC message as token on a session id (if any).
func post(t *testing.T, endpoint, token, sid, version, body string) rawResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	resp, err := noKeepAlive().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading: %v", endpoint, err)
	}
	return rawResponse{resp.StatusCode, resp.Header, string(b)}
}

// noKeepAlive is a client with a connection per request: a reload shuts
// the old server's idle connections, and a POST on one of those would fail
// in the client's transport, which is not what these tests are about.
func noKeepAlive() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.ResponseHeaderTimeout = 15 * time.Second
	return &http.Client{Transport: tr}
}

// Package sessions_test proves what session binding and stream handling
// promise across config reloads and Caddy instances, with real Caddy
// processes (built once from ./cmd/caddy) in front of one real go-sdk MCP
// server. Unlike the caddytest suite in ../, every Caddy here is its own
// process on free loopback ports with its own admin endpoint, so it can be
// reloaded through its admin API (as `caddy reload` does) and stopped; a
// missing prerequisite (Go toolchain, build, port, start) fails the tests,
// never skips them. The process harness is internal/testcaddy.
package sessions_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

func TestMain(m *testing.M) { os.Exit(testcaddy.Run(m, "sessions")) }

// caddyProc is one running Caddy process in front of the MCP site.
type caddyProc struct{ *testcaddy.Caddy }

// Endpoint is the MCP endpoint through this Caddy.
func (c caddyProc) Endpoint() string { return c.Base() + "/mcp" }

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

// startCaddy runs `caddy run` with a Caddyfile for opts and waits (up to
// 20 s) until the site answers an unauthenticated POST with 401; the
// process is stopped when the test ends (killed, and logged, if it has not
// stopped 10 s after SIGINT).
func startCaddy(t *testing.T, o procOpts) caddyProc {
	t.Helper()
	return caddyProc{testcaddy.Start(t, testcaddy.Options{
		Name:         o.name,
		Global:       "\thttp_port {PORT}\n\tdefault_bind 127.0.0.1\n\tskip_install_trust\n",
		Sites:        o.site.caddyfile(),
		Env:          o.env,
		DataHome:     o.dataHome,
		Ready:        mcpAuthAnswers,
		ReadyTimeout: 20 * time.Second,
		StopTimeout:  10 * time.Second,
		LogSlowStop:  true,
	})}
}

// mcpAuthAnswers is the Ready of these processes: mcp_auth is in place.
func mcpAuthAnswers(c *testcaddy.Caddy) error {
	resp, err := http.Post(c.Base()+"/mcp", "application/json", strings.NewReader(`{}`))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return errors.New("the MCP site answered " + resp.Status + ", want 401")
	}
	return nil
}

// reload applies the config for s with the equivalent of `caddy reload
// --force` (POST /load through the admin endpoint) and then waits until the
// new config's server alone answers (testcaddy.Caddy.Settle: five
// unauthenticated POSTs in a row answered 401, each on a new connection).
func (c caddyProc) reload(t *testing.T, s siteOpts) {
	t.Helper()
	if err := c.Reload(s.caddyfile(), true); err != nil {
		t.Fatalf("%s: reload: %v\nserver log:\n%s", c.Name(), err, c.Output())
	}
	c.Settle(t, c.Endpoint(), http.StatusUnauthorized)
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

// caddyfile is the site block for s.
func (s siteOpts) caddyfile() string {
	return fmt.Sprintf("http://127.0.0.1:{PORT} {\n%s\treverse_proxy %s\n}\n", s.mcpAuth(), s.backend)
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
	resp, err := testcaddy.NoKeepAliveClient().Do(req)
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

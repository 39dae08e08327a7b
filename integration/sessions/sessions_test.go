package sessions_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

const (
	keyA = "MCP_SESSION_KEY=0123456789abcdef0123456789abcdef-instance-key-A"
	keyB = "MCP_SESSION_KEY=fedcba9876543210fedcba9876543210-instance-key-B"
)

// keyModes are the two sources of the binding key.
var keyModes = []struct {
	name   string
	envKey bool
}{
	{"session_key from env", true},
	{"default key in storage", false},
}

func echoBody(id int, text string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":%q}}}`, id, text)
}

// TestSessionSurvivesReload: a session opened through Caddy A goes on after
// `caddy reload --force` of A with a changed config (a token added): the
// client keeps using its wrapped session id, its calls reach the same
// backend session, and its GET stream, ended by the reload, is reopened
// with the same id and accepted. With session_key {env.…}, and with the
// default key, which is then found in A's storage.
func TestSessionSurvivesReload(t *testing.T) {
	for _, km := range keyModes {
		t.Run(km.name, func(t *testing.T) {
			b := newBackend(t)
			site := siteOpts{backend: b.Addr, tokens: []string{"alice", "bob"}, envKey: km.envKey}
			a := startCaddy(t, procOpts{name: "A", env: []string{keyA}, site: site})

			alice := connect(t, a.Endpoint(), "alice", true)
			wrapped := alice.ID()
			sid := backendID(t, wrapped)
			echo(t, alice, "before")
			testcaddy.WaitFor(t, 10*time.Second, "alice's GET stream", func() bool { return b.gets(sid, http.StatusOK) >= 1 })
			getsBefore := b.gets(sid, http.StatusOK)

			// carol is not configured yet.
			if r := post(t, a.Endpoint(), tokenSecret["carol"], "", "", initializeBody); r.Status != http.StatusForbidden {
				t.Fatalf("carol before the reload: status %d, want 403", r.Status)
			}
			site.tokens = append(site.tokens, "carol")
			a.reload(t, site)
			if r := post(t, a.Endpoint(), tokenSecret["carol"], "", "", initializeBody); r.Status != http.StatusOK {
				t.Fatalf("carol after the reload: status %d, want 200: the new config is not running; body %s", r.Status, r.Body)
			}

			echo(t, alice, "after")
			if alice.ID() != wrapped {
				t.Errorf("the client's session id changed from %q to %q", wrapped, alice.ID())
			}
			if got := b.echoSessions(); len(got) != 2 || got[0] != sid || got[1] != sid {
				t.Errorf("echo calls ran on backend sessions %v, want both on %s", got, sid)
			}
			// The reload ended the GET stream (Cleanup); the SDK client
			// reopened it with the same wrapped id, which the new config
			// accepted.
			testcaddy.WaitFor(t, 15*time.Second, "alice's GET stream reopened after the reload", func() bool {
				return b.gets(sid, http.StatusOK) > getsBefore
			})

			if !km.envKey {
				key, err := os.ReadFile(filepath.Join(a.DataHome(), "caddy", "mcp_auth", "session_key"))
				if err != nil || len(key) < 32 {
					t.Errorf("no session key of at least 32 bytes in A's storage: %d bytes, %v", len(key), err)
				}
			}
		})
	}
}

// TestSessionAcrossInstances: a session opened through Caddy A works
// through Caddy B (another process in front of the same backend) when B
// binds with the same key (the same session_key, or the same storage); with
// another key (or another storage) B answers 404 session_not_found and
// forwards nothing. Another token presenting the id through A or B gets 404
// and forwards nothing (a hijack).
func TestSessionAcrossInstances(t *testing.T) {
	for _, km := range keyModes {
		for _, same := range []bool{true, false} {
			name := km.name + ", same key"
			if !same {
				name = km.name + ", different key"
			}
			t.Run(name, func(t *testing.T) {
				b := newBackend(t)
				site := siteOpts{backend: b.Addr, tokens: []string{"alice", "bob"}, envKey: km.envKey}
				shared := t.TempDir()
				a := startCaddy(t, procOpts{name: "A", env: []string{keyA}, dataHome: shared, site: site})
				bo := procOpts{name: "B", env: []string{keyA}, dataHome: shared, site: site}
				if !same {
					bo.env, bo.dataHome = []string{keyB}, ""
				}
				bc := startCaddy(t, bo)

				alice := connect(t, a.Endpoint(), "alice", false)
				wrapped := alice.ID()
				sid := backendID(t, wrapped)
				version := alice.InitializeResult().ProtocolVersion
				echo(t, alice, "via A")

				before := b.count()
				r := post(t, bc.Endpoint(), tokenSecret["alice"], wrapped, version, echoBody(7, "via B"))
				if same {
					if r.Status != http.StatusOK || !strings.Contains(r.Body, "echo: via B") {
						t.Fatalf("alice's session through B: status %d, body %s; want 200 with the echo", r.Status, r.Body)
					}
					if got := b.echoSessions(); len(got) != 2 || got[1] != sid {
						t.Errorf("the call through B ran on backend sessions %v, want %s", got, sid)
					}
					if got := r.Header.Get("Mcp-Session-Id"); got != "" && got != wrapped {
						t.Errorf("B handed back session id %q, want alice's %q", got, wrapped)
					}
				} else {
					assertSessionNotFound(t, r, "alice's session through B with another key")
					if n := b.count() - before; n != 0 {
						t.Errorf("B with another key forwarded %d request(s)", n)
					}
				}

				// The hijack: bob presents alice's id, through A and B.
				before = b.count()
				echos := len(b.echoSessions())
				for _, c := range []caddyProc{a, bc} {
					assertSessionNotFound(t, post(t, c.Endpoint(), tokenSecret["bob"], wrapped, version, echoBody(8, "hijack")),
						"bob with alice's session id through "+c.Name())
				}
				if n := b.count() - before; n != 0 {
					t.Errorf("%d hijack request(s) reached the backend", n)
				}
				if n := len(b.echoSessions()); n != echos {
					t.Errorf("the hijack ran echo (%d calls, were %d)", n, echos)
				}
				// alice's session is untouched.
				echo(t, alice, "still mine")
			})
		}
	}
}

func assertSessionNotFound(t *testing.T, r rawResponse, what string) {
	t.Helper()
	if r.Status != http.StatusNotFound {
		t.Errorf("%s: status %d, want 404; body %s", what, r.Status, r.Body)
		return
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error != "session_not_found" {
		t.Errorf("%s: body %s, want error session_not_found", what, r.Body)
	}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// openStream opens the GET stream of a session as the named token.
func openStream(t *testing.T, endpoint, who, wrapped, version string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tokenSecret[who])
	req.Header.Set("Mcp-Session-Id", wrapped)
	req.Header.Set("Mcp-Protocol-Version", version)
	resp, err := testcaddy.NoKeepAliveClient().Do(req)
	if err != nil {
		cancel()
		t.Fatalf("%s: GET stream: %v", who, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, cancel
}

// TestReloadEndsStreamOfRevokedToken: carol's GET stream, judged when it
// opened, is ended by a reload that removes carol's token (the old
// config's Cleanup ends its GET streams) within a bound, though Caddy's
// grace period is eternal; reopening it with the revoked token gets 403
// and forwards nothing, while alice, still configured, reopens hers.
func TestReloadEndsStreamOfRevokedToken(t *testing.T) {
	b := newBackend(t)
	site := siteOpts{backend: b.Addr, tokens: []string{"alice", "carol"}, envKey: true}
	a := startCaddy(t, procOpts{name: "A", env: []string{keyA}, site: site})

	type stream struct {
		who, wrapped, sid, version string
		ended                      chan time.Time
	}
	var streams []*stream
	for _, who := range []string{"carol", "alice"} {
		cs := connect(t, a.Endpoint(), who, false)
		s := &stream{who: who, wrapped: cs.ID(), sid: backendID(t, cs.ID()),
			version: cs.InitializeResult().ProtocolVersion, ended: make(chan time.Time, 1)}
		resp, _ := openStream(t, a.Endpoint(), who, s.wrapped, s.version)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET stream status %d, want 200", who, resp.StatusCode)
		}
		// The SDK writes a first SSE line at once: the stream is live
		// through Caddy.
		rd := bufio.NewReader(resp.Body)
		if _, err := rd.ReadString('\n'); err != nil {
			t.Fatalf("%s: nothing read from the open stream: %v", who, err)
		}
		go func() {
			_, _ = io.Copy(io.Discard, rd)
			s.ended <- time.Now()
		}()
		streams = append(streams, s)
	}
	// Both streams stay open while nothing changes.
	select {
	case <-streams[0].ended:
		t.Fatal("carol's stream ended before any reload")
	case <-streams[1].ended:
		t.Fatal("alice's stream ended before any reload")
	case <-time.After(500 * time.Millisecond):
	}

	site.tokens = []string{"alice"}
	reloaded := time.Now()
	a.reload(t, site)
	const bound = 5 * time.Second
	for _, s := range streams {
		select {
		case at := <-s.ended:
			t.Logf("%s's stream ended %v after the reload began", s.who, at.Sub(reloaded).Round(time.Millisecond))
		case <-time.After(bound):
			t.Fatalf("%s's GET stream was still open %v after the reload", s.who, bound)
		}
	}

	carol, alice := streams[0], streams[1]
	before := b.count()
	resp, _ := openStream(t, a.Endpoint(), "carol", carol.wrapped, carol.version)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("carol reopening her stream with a revoked token: status %d, want 403", resp.StatusCode)
	}
	if n := b.count() - before; n != 0 {
		t.Errorf("carol's refused GET: %d request(s) reached the backend", n)
	}
	if r := post(t, a.Endpoint(), tokenSecret["carol"], carol.wrapped, carol.version, echoBody(3, "revoked")); r.Status != http.StatusForbidden {
		t.Errorf("carol's POST with a revoked token: status %d, want 403", r.Status)
	}

	// alice is judged anew and may reopen hers (the backend may take a
	// moment to notice that the old one is gone: it answers 409 until then).
	reopened := b.gets(alice.sid, http.StatusOK)
	testcaddy.WaitFor(t, 10*time.Second, "alice's stream reopened after the reload", func() bool {
		resp, cancel := openStream(t, a.Endpoint(), "alice", alice.wrapped, alice.version)
		defer cancel()
		return resp.StatusCode == http.StatusOK
	})
	if b.gets(alice.sid, http.StatusOK) <= reopened {
		t.Error("alice's reopened stream did not reach the backend")
	}
}

package mcpauth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const (
	aliceToken = "alice-secret-token"
	bobToken   = "bob-secret-token"
)

// newHandler provisions a handler the way Caddy does, from its JSON form.
func newHandler(t testing.TB, mutate func(*MCPAuth)) *MCPAuth {
	t.Helper()
	m := &MCPAuth{
		Tokens: []Token{
			{Name: "alice", Secret: hashToken(aliceToken), Roles: []string{"admin"}},
			{Name: "bob", Secret: bobToken, Roles: []string{"reader"}},
		},
		Roles: testRoles,
	}
	if mutate != nil {
		mutate(m)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatalf("provision: %v", err)
	}
	return m
}

// provisionErr provisions like newHandler and returns the error.
func provisionErr(t testing.TB, mutate func(*MCPAuth)) error {
	m := &MCPAuth{
		Tokens: []Token{{Name: "bob", Secret: bobToken, Roles: []string{"reader"}}},
		Roles:  testRoles,
	}
	mutate(m)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	return m.Provision(ctx)
}

// spy is a next handler that records what was forwarded.
type spy struct {
	calls  int
	body   string
	header http.Header
	length int64
}

func (s *spy) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	s.calls++
	b, _ := io.ReadAll(r.Body)
	s.body = string(b)
	s.header = r.Header.Clone()
	s.length = r.ContentLength
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	return nil
}

type result struct {
	status int
	header http.Header
	body   string
	repl   *caddy.Replacer
}

func serve(t testing.TB, m *MCPAuth, next *spy, req *http.Request) result {
	t.Helper()
	repl := caddyhttp.NewTestReplacer(req)
	rec := httptest.NewRecorder()
	if err := m.ServeHTTP(rec, req, caddyhttp.HandlerFunc(next.ServeHTTP)); err != nil {
		t.Fatalf("ServeHTTP returned %v", err)
	}
	return result{rec.Code, rec.Header(), rec.Body.String(), repl}
}

func post(body, token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

const (
	callEcho   = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}`
	callDelete = `{"jsonrpc":"2.0","id":"req-\u0031","method":"tools/call","params":{"name":"delete_db"}}`
)

// TestStatusTable walks the README's status table row by row.
func TestStatusTable(t *testing.T) {
	m := newHandler(t, nil)
	type row struct {
		name      string
		req       func() *http.Request
		status    int
		forwarded bool
		challenge string // expected WWW-Authenticate, "" for none
		body      string // substring of the body
	}
	withHeader := func(r *http.Request, k string, v ...string) *http.Request {
		r.Header.Del(k)
		for _, x := range v {
			r.Header.Add(k, x)
		}
		return r
	}
	rows := []row{
		{"no credential", func() *http.Request { return post(callEcho, "") }, 401, false, `Bearer realm="mcp"`, `{"error":"unauthorized","error_description":`},
		{"empty credential", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", "") }, 401, false, `Bearer realm="mcp"`, `"unauthorized"`},
		{"bare Bearer", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", "Bearer") }, 401, false, `Bearer realm="mcp"`, `"unauthorized"`},
		{"Basic scheme", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", "Basic YWxpY2U6eA==") }, 401, false, `Bearer realm="mcp"`, `"unauthorized"`},
		{"two credential headers", func() *http.Request {
			return withHeader(post(callEcho, ""), "Authorization", "Bearer "+aliceToken, "Bearer "+bobToken)
		}, 400, false, `Bearer realm="mcp", error="invalid_request"`, `"invalid_request"`},
		{"tab in credential", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", "Bearer\t"+aliceToken) }, 400, false, `Bearer realm="mcp", error="invalid_request"`, `"invalid_request"`},
		{"non-ASCII credential", func() *http.Request {
			return withHeader(post(callEcho, ""), "Authorization", "Bearer "+aliceToken+"\xe9")
		}, 400, false, `Bearer realm="mcp", error="invalid_request"`, `"invalid_request"`},
		{"unknown token", func() *http.Request { return post(callEcho, "nope") }, 403, false, `Bearer realm="mcp", error="invalid_token"`, `{"error":"invalid_token"`},
		{"forged requestState", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","inputResponses":{},"requestState":"mcps.x.y"}}`, aliceToken)
		}, 400, false, "", `"code":-32602,"message":"invalid requestState`},
		{"secret prefix is not the secret", func() *http.Request { return post(callEcho, aliceToken[:len(aliceToken)-1]) }, 403, false, `Bearer realm="mcp", error="invalid_token"`, `"invalid_token"`},
		{"digest is not the secret", func() *http.Request { return post(callEcho, hashToken(aliceToken)) }, 403, false, `Bearer realm="mcp", error="invalid_token"`, `"invalid_token"`},
		{"malformed JSON", func() *http.Request { return post(`{"jsonrpc":"2.0",`, bobToken) }, 400, false, "", `"code":-32700`},
		{"duplicate key", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x","name":"delete_db"}}`, bobToken)
		}, 400, false, "", `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,`},
		{"case-variant key", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call"}`, bobToken)
		}, 400, false, "", `"code":-32600`},
		{"wrong content type", func() *http.Request { return withHeader(post(callEcho, bobToken), "Content-Type", "text/plain") }, 415, false, "", `"code":-32600`},
		{"no content type", func() *http.Request { return withHeader(post(callEcho, bobToken), "Content-Type") }, 415, false, "", `"code":-32600`},
		{"content type with charset and case", func() *http.Request {
			return withHeader(post(callEcho, bobToken), "Content-Type", "Application/JSON; charset=utf-8")
		}, 200, true, "", `"result"`},
		{"gzip body", func() *http.Request { return withHeader(post(callEcho, bobToken), "Content-Encoding", "gzip") }, 415, false, "", `"code":-32600`},
		{"body over max_body", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`+strings.Repeat("x", 2<<20)+`"}}`, bobToken)
		}, 413, false, "", `request body too large`},
		{"chunked body over max_body", func() *http.Request {
			r := post(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`+strings.Repeat("x", 2<<20)+`"}}`, bobToken)
			r.ContentLength = -1
			r.TransferEncoding = []string{"chunked"}
			return r
		}, 413, false, "", `request body too large`},
		{"allowed call", func() *http.Request { return post(callEcho, bobToken) }, 200, true, "", `"result"`},
		{"bare token", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", bobToken) }, 200, true, "", `"result"`},
		{"lower-case scheme", func() *http.Request { return withHeader(post(callEcho, ""), "Authorization", "bearer "+bobToken) }, 200, true, "", `"result"`},
		{"denied tool, jsonrpc", func() *http.Request { return post(callDelete, aliceToken) }, 200, false, "",
			`{"jsonrpc":"2.0","id":"req-\u0031","error":{"code":-32030,"message":"permission denied: tools/call \"delete_db\""}}`},
		{"denied method", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":3,"method":"logging/setLevel","params":{"level":"debug"}}`, bobToken)
		}, 200, false, "", `{"jsonrpc":"2.0","id":3,"error":{"code":-32030,"message":"permission denied: logging/setLevel"}}`},
		{"denied resource", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"file:///private/x"}}`, bobToken)
		}, 200, false, "", `"message":"permission denied: resources/read \"file:///private/x\""`},
		{"traversal refused, not matched", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"file:///docs/../etc/passwd"}}`, bobToken)
		}, 400, false, "", `"code":-32602`},
		{"lifecycle for any caller", func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, bobToken)
		}, 200, true, "", `"result"`},
		{"client response", func() *http.Request { return post(`{"jsonrpc":"2.0","id":"srv-1","result":{"roots":[]}}`, bobToken) }, 200, true, "", `"result"`},
		{"batch all allowed", func() *http.Request {
			return post(`[`+callEcho+`,{"jsonrpc":"2.0","method":"notifications/initialized"}]`, bobToken)
		}, 200, true, "", `"result"`},
		{"batch with one denied", func() *http.Request {
			return post(`[`+callEcho+`,{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"delete_db"}}]`, bobToken)
		}, 200, false, "",
			`[{"jsonrpc":"2.0","id":7,"error":{"code":-32030,"message":"batch refused: another request in the batch was denied"}},{"jsonrpc":"2.0","id":9,"error":{"code":-32030,"message":"permission denied: tools/call \"delete_db\""}}]`},
		{"GET stream", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+bobToken)
			return r
		}, 200, true, "", `"result"`},
		{"GET with a body", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/mcp", strings.NewReader(callDelete))
			r.Header.Set("Authorization", "Bearer "+aliceToken)
			return r
		}, 400, false, "", `"invalid_request"`},
		{"DELETE with a chunked body", func() *http.Request {
			r := httptest.NewRequest(http.MethodDelete, "/mcp", strings.NewReader(callDelete))
			r.Header.Set("Authorization", "Bearer "+aliceToken)
			r.ContentLength = -1
			r.TransferEncoding = []string{"chunked"}
			return r
		}, 400, false, "", `"invalid_request"`},
		{"two Content-Type headers", func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Add("Content-Type", "text/plain")
			return r
		}, 415, false, "", `"code":-32600`},
		{"identity then gzip", func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Add("Content-Encoding", "identity")
			r.Header.Add("Content-Encoding", "gzip")
			return r
		}, 415, false, "", `"code":-32600`},
		{"identity encoding", func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Set("Content-Encoding", "identity")
			return r
		}, 200, true, "", `"result"`},
		{"GET without token", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/mcp", nil) }, 401, false, `Bearer realm="mcp"`, `"unauthorized"`},
		{"DELETE session", func() *http.Request {
			r := httptest.NewRequest(http.MethodDelete, "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+bobToken)
			r.Header.Set("Mcp-Session-Id", wrapSessionID(m.sessions.key, "token:bob", "abc"))
			return r
		}, 200, true, "", `"result"`},
		{"session of another principal", func() *http.Request {
			r := httptest.NewRequest(http.MethodDelete, "/mcp", nil)
			r.Header.Set("Authorization", "Bearer "+bobToken)
			r.Header.Set("Mcp-Session-Id", wrapSessionID(m.sessions.key, "token:alice", "abc"))
			return r
		}, 404, false, "", `{"error":"session_not_found"`},
		{"unwrapped session id", func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Set("Mcp-Session-Id", "abc")
			return r
		}, 404, false, "", `"session_not_found"`},
		{"CORS preflight without credential", func() *http.Request {
			r := httptest.NewRequest(http.MethodOptions, "/mcp", nil)
			r.Header.Set("Origin", "https://app.example")
			r.Header.Set("Access-Control-Request-Method", "POST")
			return r
		}, 200, true, "", `"result"`},
		{"OPTIONS that is no preflight", func() *http.Request { return httptest.NewRequest(http.MethodOptions, "/mcp", nil) }, 401, false, `Bearer realm="mcp"`, `"unauthorized"`},
		{"PUT", func() *http.Request { return post(callEcho, bobToken) }, 200, true, "", ""}, // replaced below
	}
	rows[len(rows)-1] = row{"PUT", func() *http.Request {
		r := post(callEcho, bobToken)
		r.Method = http.MethodPut
		return r
	}, 405, false, "", `{"error":"method_not_allowed"`}
	rows = append(rows, row{"HEAD", func() *http.Request {
		r := httptest.NewRequest(http.MethodHead, "/mcp", nil)
		r.Header.Set("Authorization", "Bearer "+bobToken)
		return r
	}, 405, false, "", `method_not_allowed`})

	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			next := &spy{}
			res := serve(t, m, next, tt.req())
			if res.status != tt.status {
				t.Errorf("status = %d, want %d (body %s)", res.status, tt.status, res.body)
			}
			if got := next.calls > 0; got != tt.forwarded {
				t.Errorf("forwarded = %v, want %v", got, tt.forwarded)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if !strings.Contains(res.body, tt.body) {
				t.Errorf("body = %s, want it to contain %s", res.body, tt.body)
			}
			if !tt.forwarded {
				if ct := res.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("refusal Content-Type = %q", ct)
				}
				if !json.Valid([]byte(res.body)) {
					t.Errorf("refusal body is not JSON: %s", res.body)
				}
			}
			if tt.status == 405 && res.header.Get("Allow") != "GET, POST, DELETE, OPTIONS" {
				t.Errorf("Allow = %q", res.header.Get("Allow"))
			}
			for _, secret := range []string{aliceToken, bobToken, hashToken(aliceToken)[7:], hashToken(bobToken)[7:]} {
				if strings.Contains(res.body, secret) || strings.Contains(next.header.Get("Authorization"), secret) {
					t.Errorf("a secret leaked into the answer or upstream")
				}
			}
		})
	}
}

func TestForwardedRequest(t *testing.T) {
	m := newHandler(t, nil)
	next := &spy{}
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_\u0078","arguments":{}}}` + "\n"
	req := post(body, bobToken)
	req.ContentLength = -1
	req.Header.Set("X-Other", "kept")
	res := serve(t, m, next, req)
	if res.status != 200 || next.calls != 1 {
		t.Fatalf("status %d, calls %d", res.status, next.calls)
	}
	if next.body != body {
		t.Errorf("body changed: %q", next.body)
	}
	if next.length != int64(len(body)) {
		t.Errorf("ContentLength = %d, want %d", next.length, len(body))
	}
	if next.header.Get("Authorization") != "" || next.header.Get("X-Other") != "kept" {
		t.Errorf("upstream headers: %v", next.header)
	}
	for k, want := range map[string]string{
		"http.auth.user.id":      "bob",
		"http.auth.user.roles":   "reader",
		"http.mcp_auth.method":   "tools/call",
		"http.mcp_auth.target":   "get_x",
		"http.mcp_auth.decision": "allow",
	} {
		if got, _ := res.repl.GetString(k); got != want {
			t.Errorf("{%s} = %q, want %q", k, got, want)
		}
	}
}

func TestDenyWithStatus(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.DenyWith = "status" })
	next := &spy{}
	res := serve(t, m, next, post(callDelete, aliceToken))
	want := `{"jsonrpc":"2.0","id":"req-\u0031","error":{"code":-32030,"message":"permission denied: tools/call \"delete_db\""}}` + "\n"
	if res.status != 403 || res.body != want || next.calls != 0 {
		t.Errorf("got %d %s (forwarded %d)", res.status, res.body, next.calls)
	}
}

func TestInvalidToken401(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.InvalidTokenStatus = 401 })
	res := serve(t, m, &spy{}, post(callEcho, "nope"))
	if res.status != 401 || res.header.Get("WWW-Authenticate") != `Bearer realm="mcp", error="invalid_token"` {
		t.Errorf("got %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestCustomHeader(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.Header = "x-api-key"; m.Realm = "tools" })
	next := &spy{}
	req := post(callEcho, "")
	req.Header.Set("X-Api-Key", bobToken)
	req.Header.Set("Authorization", "Bearer something-else")
	if res := serve(t, m, next, req); res.status != 200 || next.calls != 1 {
		t.Fatalf("status %d", res.status)
	}
	if next.header.Get("X-Api-Key") != "" || next.header.Get("Authorization") != "" {
		t.Errorf("credential headers reached upstream: %v", next.header)
	}
	res := serve(t, m, &spy{}, post(callEcho, bobToken)) // Authorization is not the configured header
	if res.status != 401 || res.header.Get("WWW-Authenticate") != `Bearer realm="tools"` {
		t.Errorf("got %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestPassAuthorization(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.PassAuthorization = true })
	next := &spy{}
	serve(t, m, next, post(callEcho, bobToken))
	if next.header.Get("Authorization") != "Bearer "+bobToken {
		t.Errorf("Authorization = %q", next.header.Get("Authorization"))
	}
}

func TestCORSOnRefusals(t *testing.T) {
	m := newHandler(t, nil)
	req := post(callEcho, "")
	req.Header.Set("Origin", "https://app.example")
	res := serve(t, m, &spy{}, req)
	if res.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(res.header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") ||
		!strings.Contains(res.header.Get("Access-Control-Expose-Headers"), "Mcp-Session-Id") {
		t.Errorf("CORS headers: %v", res.header)
	}
}

func TestProvisionSecrets(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "carol")
	if err := os.WriteFile(secretFile, []byte("carol-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokFile, []byte("# file tokens\ndave dave-secret reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCPAUTH_TEST_ERIN", "erin-secret")
	m := newHandler(t, func(m *MCPAuth) {
		m.Tokens = append(m.Tokens,
			Token{Name: "carol", Secret: "{file." + secretFile + "}", Roles: []string{"reader"}},
			Token{Name: "erin", Secret: "{env.MCPAUTH_TEST_ERIN}", Roles: []string{"reader", "deleter"}})
		m.TokenFiles = []string{tokFile}
	})
	for tok, name := range map[string]string{"carol-secret": "carol", "erin-secret": "erin", "dave-secret": "dave", bobToken: "bob"} {
		if p := m.static.lookup(digestOf(tok)); p == nil || p.name != name {
			t.Errorf("lookup(%s) = %v, want %s", name, p, name)
		}
	}
	if p := m.static.lookup(digestOf("{env.MCPAUTH_TEST_ERIN}")); p != nil {
		t.Error("the placeholder text itself was accepted as a token")
	}
}

func TestProvisionErrors(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad")
	_ = os.WriteFile(badFile, []byte("ok tok-1 reader\nbroken\n"), 0o600)
	tests := []struct {
		name   string
		mutate func(*MCPAuth)
		want   string
	}{
		{"unknown role", func(m *MCPAuth) { m.Tokens[0].Roles = []string{"nobody"} }, `token "alice": unknown role "nobody"`},
		{"no roles", func(m *MCPAuth) { m.Tokens[0].Roles = nil }, `token "alice": at least one role`},
		{"duplicate name", func(m *MCPAuth) { m.Tokens[1].Name = "alice" }, `token "alice": duplicate token name`},
		{"same secret", func(m *MCPAuth) { m.Tokens[1].Secret = aliceToken }, `token "bob": same secret as token "alice"`},
		{"empty secret", func(m *MCPAuth) { m.Tokens[1].Secret = "" }, `token "bob": empty secret`},
		{"unset env", func(m *MCPAuth) { m.Tokens[1].Secret = "{env.MCPAUTH_TEST_UNSET_VAR}" }, `token "bob": secret {env.MCPAUTH_TEST_UNSET_VAR}`},
		{"missing secret file", func(m *MCPAuth) { m.Tokens[1].Secret = "{file." + filepath.Join(dir, "none") + "}" }, `token "bob": secret {file.`},
		{"malformed digest", func(m *MCPAuth) { m.Tokens[1].Secret = "sha256:1234" }, `token "bob": malformed digest`},
		{"role without rules", func(m *MCPAuth) { m.Roles = map[string]Role{"admin": testRoles["admin"], "reader": {}} }, `role "reader" has no rules`},
		{"unreadable token file", func(m *MCPAuth) { m.TokenFiles = []string{filepath.Join(dir, "none")} }, "token file " + filepath.Join(dir, "none") + ": no such file"},
		{"bad token file line", func(m *MCPAuth) { m.TokenFiles = []string{badFile} }, "token file " + badFile + ":2: want"},
		{"bad deny_with", func(m *MCPAuth) { m.DenyWith = "silence" }, `deny_with: want jsonrpc or status, got "silence"`},
		{"bad status", func(m *MCPAuth) { m.InvalidTokenStatus = 404 }, `invalid_token_status: want 401 or 403, got "404"`},
		{"bad header", func(m *MCPAuth) { m.Header = "X Key" }, "header:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &MCPAuth{
				Tokens: []Token{
					{Name: "alice", Secret: aliceToken, Roles: []string{"admin"}},
					{Name: "bob", Secret: bobToken, Roles: []string{"reader"}},
				},
				Roles: map[string]Role{"admin": testRoles["admin"], "reader": testRoles["reader"]},
			}
			tt.mutate(m)
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			err := m.Provision(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want …%s…", err, tt.want)
			}
			for _, s := range []string{aliceToken, bobToken, "tok-1"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

// jwtOf and introOf return a handler's verifiers of that kind.
func jwtOf(m *MCPAuth) *jwtVerifier {
	for _, v := range m.verifiers {
		if j, ok := v.(*jwtVerifier); ok {
			return j
		}
	}
	return nil
}

func introOf(m *MCPAuth) *introspector {
	for _, v := range m.verifiers {
		if in, ok := v.(*introspector); ok {
			return in
		}
	}
	return nil
}

// checkOAuth checks an access token with the handler's verifiers, as
// authentication does after the static tokens.
func checkOAuth(m *MCPAuth, ctx context.Context, tok string) (*principal, *rejection) {
	for _, v := range m.verifiers {
		p, rej := v.verify(ctx, tok, attempt{})
		if rej != errNotMine {
			return p, rej
		}
	}
	return nil, errNotMine
}

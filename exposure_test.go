package mcpauth

import (
	"io"
	"time"

	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestIdentityHeaders(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.IdentityHeader = "X-MCP-User"; m.RolesHeader = "X-MCP-Roles" })
	next := &spy{}
	req := post(callEcho, bobToken)
	req.Header["X-Mcp-User"] = []string{"token:alice", "token:root"}
	req.Header["x-mcp-user"] = []string{"token:alice"} // non-canonical key, as a raw map write could leave
	req.Header.Set("X_MCP_User", "token:alice")
	req.Header.Set("X-Mcp-Roles", "admin")
	res := serve(t, m, next, req)
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	var users, roles []string
	for k, v := range next.header {
		switch headerKey(k) {
		case "x-mcp-user":
			users = append(users, v...)
		case "x-mcp-roles":
			roles = append(roles, v...)
		}
	}
	if strings.Join(users, "|") != "token:bob" || strings.Join(roles, "|") != "reader" {
		t.Errorf("upstream identity %q roles %q (headers %v)", users, roles, next.header)
	}
	if got, _ := res.repl.GetString("http.mcp_auth.principal"); got != "token:bob" {
		t.Errorf("{http.mcp_auth.principal} = %q", got)
	}
}

func TestAllowedOrigins(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.AllowedOrigins = []string{"https://app.example", "http://localhost:6274"} })
	for origin, want := range map[string]int{"": 200, "https://app.example": 200, "HTTPS://APP.EXAMPLE": 200, "http://localhost:6274": 200,
		"https://evil.example": 403, "null": 403, "https://app.example.evil": 403} {
		next := &spy{}
		req := post(callEcho, bobToken)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res := serve(t, m, next, req)
		if res.status != want || (want == 403) != (next.calls == 0) {
			t.Errorf("Origin %q: %d (forwarded %d), want %d", origin, res.status, next.calls, want)
		}
		if want == 403 && (!strings.Contains(res.body, "forbidden_origin") || res.header.Get("Access-Control-Allow-Origin") != "") {
			t.Errorf("Origin %q: body %s, ACAO %q", origin, res.body, res.header.Get("Access-Control-Allow-Origin"))
		}
	}
	pre := httptest.NewRequest(http.MethodOptions, "/mcp", nil)
	pre.Header.Set("Origin", "https://evil.example")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	if res := serve(t, m, &spy{}, pre); res.status != 403 {
		t.Errorf("preflight from a foreign origin: %d", res.status)
	}
}

func TestMCPHeaders(t *testing.T) {
	m := newHandler(t, nil)
	b64 := func(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }
	tests := []struct {
		method, name string
		want         int
	}{
		{"tools/call", "get_weather", 200},
		{"tools/call", "", 200},
		{b64("tools/call"), b64("get_weather"), 200},
		{"tools/list", "get_weather", 400},
		{"tools/call", "delete_db", 400},
		{"tools/call", b64("delete_db"), 400},
		{"=?base64?!!?=", "", 400},
	}
	for _, tt := range tests {
		next := &spy{}
		req := post(callEcho, bobToken)
		req.Header.Set("Mcp-Method", tt.method)
		if tt.name != "" {
			req.Header.Set("Mcp-Name", tt.name)
		}
		res := serve(t, m, next, req)
		if res.status != tt.want || (tt.want == 400) != (next.calls == 0) {
			t.Errorf("Mcp-Method %q Mcp-Name %q: %d %s", tt.method, tt.name, res.status, res.body)
		}
		if tt.want == 400 && !strings.Contains(res.body, `"id":7`) {
			t.Errorf("refusal does not echo the id: %s", res.body)
		}
	}
}

// unknownItemBackend answers every call as a backend answers an item that
// does not exist, naming the item it was asked for (the Go SDK's style).
type unknownItemBackend struct {
	calls int
	seen  []string // the bodies it received
}

func (b *unknownItemBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	b.calls++
	body, _ := io.ReadAll(r.Body)
	b.seen = append(b.seen, string(body))
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"params"`
	}
	_ = json.Unmarshal(body, &msg)
	text := "unknown tool " + wire.Quote(msg.Params.Name)
	switch msg.Method {
	case "prompts/get":
		text = "unknown prompt " + wire.Quote(msg.Params.Name)
	case "resources/read":
		text = "Resource not found: " + msg.Params.URI
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rpcErrorBody(msg.ID, wire.CodeInvalidParams, text))
	return nil
}

// TestHideDenied: a denied item is forwarded under a random name that
// cannot exist, and the backend's own answer comes back with the
// requested name put back: byte for byte what the backend answers for an
// item of that name that does not exist.
func TestHideDenied(t *testing.T) {
	tests := []struct {
		body, want, name string
	}{
		{callDelete, `{"jsonrpc":"2.0","id":"req-\u0031","error":{"code":-32602,"message":"unknown tool \"delete_db\""}}`, "delete_db"},
		{`{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"secret_prompt"}}`, `{"jsonrpc":"2.0","id":2,"error":{"code":-32602,"message":"unknown prompt \"secret_prompt\""}}`, "secret_prompt"},
		{`{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///private/x"}}`, `{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"Resource not found: file:///private/x"}}`, "file:///private/x"},
	}
	for _, tt := range tests {
		m := newHandler(t, func(m *MCPAuth) {
			m.HideDenied = &HideDenied{}
			m.DenyWith = "status"
			m.Tokens = append(m.Tokens, Token{Name: "carol", Secret: "carol-token", Roles: []string{"reader", "no-secrets"}})
		})
		token := "carol-token"
		if strings.Contains(tt.body, "delete_db") {
			token = aliceToken
		}
		be := &unknownItemBackend{}
		req := post(tt.body, token)
		repl := caddyhttp.NewTestReplacer(req)
		rec := httptest.NewRecorder()
		if err := m.ServeHTTP(rec, req, be); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 200 || rec.Body.String() != tt.want {
			t.Errorf("%s:\n got %d %s\nwant 200 %s", tt.body, rec.Code, rec.Body.String(), tt.want)
		}
		if be.calls != 1 || strings.Contains(be.seen[0], tt.name) {
			t.Errorf("%s: the backend saw %q, want one call without the name", tt.body, be.seen)
		}
		if d, _ := repl.GetString("http.mcp_auth.decision"); d != "deny" {
			t.Errorf("%s: decision %q, want deny", tt.body, d)
		}
	}
	// Nothing to hide for a method without an item: deny_with applies.
	m := newHandler(t, func(m *MCPAuth) { m.HideDenied = &HideDenied{}; m.DenyWith = "status" })
	be := &unknownItemBackend{}
	req := post(`{"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"debug"}}`, bobToken)
	caddyhttp.NewTestReplacer(req)
	rec := httptest.NewRecorder()
	if err := m.ServeHTTP(rec, req, be); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 403 || be.calls != 0 || strings.TrimSpace(rec.Body.String()) != `{"jsonrpc":"2.0","id":4,"error":{"code":-32030,"message":"permission denied: logging/setLevel"}}` {
		t.Errorf("logging/setLevel: %d %s (backend calls %d)", rec.Code, rec.Body.String(), be.calls)
	}
}

func TestAuditLog(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.Audit = true })
	core, logs := observer.New(zap.InfoLevel)
	m.audit = zap.New(core)
	serve(t, m, &spy{}, post(callEcho, bobToken))
	serve(t, m, &spy{}, post(callDelete, aliceToken))
	serve(t, m, &spy{}, post(`{"jsonrpc":"2.0",`, bobToken))
	entries := logs.All()
	if len(entries) != 3 {
		t.Fatalf("%d audit entries, want 3", len(entries))
	}
	f0, f1 := entries[0].ContextMap(), entries[1].ContextMap()
	if f0["principal"] != "token:bob" || f0["method"] != "tools/call" || f0["target"] != "get_weather" ||
		f0["decision"] != "allow" || f0["rule"] != "role reader: allow tools/call search_docs get_*" {
		t.Errorf("allow entry: %v", f0)
	}
	if f1["principal"] != "token:alice" || f1["decision"] != "deny" || f1["rule"] != "role admin: deny tools/call delete_*" {
		t.Errorf("deny entry: %v", f1)
	}
	for _, e := range entries {
		for _, v := range e.ContextMap() {
			s, _ := v.(string)
			for _, secret := range []string{aliceToken, bobToken, hashToken(aliceToken)[7:], hashToken(bobToken)[7:]} {
				if strings.Contains(s, secret) {
					t.Errorf("secret in audit entry %v", e.ContextMap())
				}
			}
		}
	}
}

func TestCaddyfileExposure(t *testing.T) {
	d := caddyfile.NewTestDispenser(`mcp_auth {
		token a s r
		role r {
			allow *
		}
		hide_denied typescript {
			tool_message "no such tool {name}"
		}
		identity_header X-MCP-User
		roles_header X-MCP-Roles
		session_key {env.MCP_SESSION_KEY}
		allowed_origins https://a.example http://localhost:6274
		throttle 10/5m
		audit
	}`)
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if m.HideDenied == nil || m.HideDenied.Style != "typescript" || m.HideDenied.ToolMessage != "no such tool {name}" ||
		m.IdentityHeader != "X-MCP-User" || m.RolesHeader != "X-MCP-Roles" || m.SessionKey != "{env.MCP_SESSION_KEY}" ||
		len(m.AllowedOrigins) != 2 || !m.Audit || m.Throttle == nil || m.Throttle.Failures != 10 || m.Throttle.Window != caddy.Duration(5*time.Minute) {
		t.Errorf("parsed %+v", m)
	}
	for input, want := range map[string]string{
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n hide_denied python\n}":            `hide_denied: want go or typescript, got "python"`,
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n hide_denied {\n body x\n }\n}":    "hide_denied: unrecognized subdirective 'body'",
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n session_key literal-key-value\n}": "session_key: use an {env.*} or {file.*} placeholder",
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n session_binding maybe\n}":         `session_binding: want on or off, got "maybe"`,
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n allowed_origins\n}":               "wrong argument count",
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n identity_header \"X A\"\n}":       `identity_header: "X A" is not a valid header name`,
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n audit\n audit\n}":                 "duplicate audit subdirective",
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n throttle 30\n}":                   `throttle: want <failures>/<window> such as 30/1m, or off; got "30"`,
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n throttle 0/1m\n}":                 "throttle: want",
		"mcp_auth {\n token a s r\n role r {\n allow *\n }\n throttle 5/soon\n}":               "throttle: want",
	} {
		var m MCPAuth
		if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want …%s…", input, err, want)
		}
	}
}

func TestProvisionExposureErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*MCPAuth)
		want   string
	}{
		"short session key":      {func(m *MCPAuth) { t.Setenv("MCPAUTH_SHORT", "short"); m.SessionKey = "{env.MCPAUTH_SHORT}" }, "session_key: must be at least 32 characters"},
		"unset session key":      {func(m *MCPAuth) { m.SessionKey = "{env.MCPAUTH_UNSET_KEY}" }, "session_key {env.MCPAUTH_UNSET_KEY}"},
		"bad origin":             {func(m *MCPAuth) { m.AllowedOrigins = []string{"app.example"} }, `allowed_origins[0]: "app.example" is not an origin`},
		"origin with path":       {func(m *MCPAuth) { m.AllowedOrigins = []string{"https://a.example/x"} }, "is not an origin"},
		"identity is credential": {func(m *MCPAuth) { m.IdentityHeader = "authorization" }, "identity_header: \"authorization\" is the credential header"},
		"bad hide_denied style":  {func(m *MCPAuth) { m.HideDenied = &HideDenied{Style: "rust"} }, `hide_denied: style "rust"`},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatal(r)
				}
			}()
			err := provisionErr(t, tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want …%s…", err, tc.want)
			}
		})
	}
	// A configured key makes ids portable between instances.
	t.Setenv("MCPAUTH_KEY", strings.Repeat("k", 40))
	a := newHandler(t, func(m *MCPAuth) { m.SessionKey = "{env.MCPAUTH_KEY}" })
	b := newHandler(t, func(m *MCPAuth) { m.SessionKey = "{env.MCPAUTH_KEY}" })
	if _, ok := unwrapSessionID(b.sessions.key, "token:bob", wrapSessionID(a.sessions.key, "token:bob", "s")); !ok {
		t.Error("two instances with one session_key disagree")
	}
}

// TestAuditWithheldReply: a reply withheld because it cannot be filtered
// is audited as a refusal, besides its metric.
func TestAuditWithheldReply(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.Audit = true })
	core, logs := observer.New(zap.InfoLevel)
	m.audit = zap.New(core)
	req := post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, bobToken)
	caddyhttp.NewTestReplacer(req)
	rec := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"tools":[],"tools":[{"name":"delete_all"}]}}`)
		return nil
	})
	if err := m.ServeHTTP(rec, req, next); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "delete_all") {
		t.Fatalf("answered %d %s", rec.Code, rec.Body.String())
	}
	var found bool
	for _, e := range logs.All() {
		f := e.ContextMap()
		found = found || f["decision"] == "deny" && f["rule"] == reasonUnfilterableList && f["principal"] == "token:bob"
	}
	if !found {
		t.Errorf("no audit entry for the withheld reply: %v", logs.All())
	}
}

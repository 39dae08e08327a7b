package mcpauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const (
	introClientID = "mcp-gateway"
	introSecret   = "s3cr3t+/=:introspection-secret" // characters that Basic auth must form-encode
	introEnv      = "MCP_TEST_INTROSPECTION_SECRET"
)

// introServer is an RFC 7662 endpoint: it checks client_secret_basic and
// the form, answers from a table by token, and counts calls.
type introServer struct {
	*httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	answers map[string]string // token → JSON answer
	status  int               // when not 200, answered instead
	raw     []byte            // when set, answered instead of the table
	delay   time.Duration
	bad     atomic.Value // string: what the last bad request got wrong
}

func newIntroServer(t testing.TB) *introServer {
	s := &introServer{answers: map[string]string{}, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		fail := func(why string) {
			s.bad.Store(why)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			fail("method or content type")
			return
		}
		// RFC 6749 §2.3.1: both parts form-encoded, then Basic.
		id, secret, ok := r.BasicAuth()
		if !ok || id != introClientID || secret != strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D", ":", "%3A").Replace(introSecret) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		if err := r.ParseForm(); err != nil || len(r.PostForm) != 2 || r.PostForm.Get("token_type_hint") != "access_token" || len(r.PostForm["token"]) != 1 {
			fail("form")
			return
		}
		s.mu.Lock()
		status, raw, delay, answer := s.status, s.raw, s.delay, s.answers[r.PostForm.Get("token")]
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		if raw != nil {
			_, _ = w.Write(raw)
			return
		}
		if answer == "" {
			answer = `{"active":false}`
		}
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *introServer) set(tok string, answer map[string]any) {
	b, _ := json.Marshal(answer)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[tok] = string(b)
}

func (s *introServer) fail(status int, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.raw = status, raw
}

// activeAnswer is a good answer for alice, changed by mutate.
func activeAnswer(mutate func(map[string]any)) map[string]any {
	a := map[string]any{
		"active":     true,
		"iss":        testIssuer,
		"sub":        "alice",
		"aud":        testResource,
		"scope":      "mcp:read",
		"client_id":  "client-1",
		"exp":        time.Now().Add(5 * time.Minute).Unix(),
		"token_type": "Bearer",
	}
	if mutate != nil {
		mutate(a)
	}
	return a
}

func introConfig(url string) *IntrospectionConfig {
	return &IntrospectionConfig{
		URL:          url,
		ClientID:     introClientID,
		ClientSecret: "{env." + introEnv + "}",
		ScopeRoles:   []ScopeRole{{Scope: "mcp:read", Roles: []string{"reader"}}, {Scope: "mcp:admin", Roles: []string{"admin"}}},
	}
}

// newIntroHandler provisions a handler with static tokens and
// introspection only (no jwt).
func newIntroHandler(t testing.TB, url string, mutate func(*MCPAuth)) *MCPAuth {
	t.Helper()
	t.Setenv(introEnv, introSecret)
	m := newHandler(t, func(m *MCPAuth) {
		m.Introspection = introConfig(url)
		m.ResourceMetadata = &ResourceMetadata{Resource: testResource, AuthorizationServers: []string{testIssuer}}
		if mutate != nil {
			mutate(m)
		}
	})
	t.Cleanup(func() { _ = m.Cleanup() })
	return m
}

// clearBackoff ends the introspector's backoff, as its deadline passing
// and a good probe would.
func clearBackoff(in *introspector) {
	in.mu.Lock()
	in.back = backoff{}
	in.mu.Unlock()
}

// observe sends the handler's logs to an observer.
func observe(m *MCPAuth) *observer.ObservedLogs {
	core, logs := observer.New(zap.DebugLevel)
	m.logger = zap.New(core)
	introOf(m).logger = m.logger
	return logs
}

func TestIntrospectionAnswers(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) { m.Introspection.RolesClaim = "realm_access.roles" })
	tests := []struct {
		name   string
		answer map[string]any // nil: the server does not know the token
		status int
		desc   string
	}{
		{"active", activeAnswer(nil), 200, ""},
		{"inactive", nil, 401, "not active"},
		{"aud array", activeAnswer(func(a map[string]any) { a["aud"] = []string{"other", testResource} }), 200, ""},
		{"no aud", activeAnswer(func(a map[string]any) { delete(a, "aud") }), 401, "not meant for this resource"},
		{"wrong aud", activeAnswer(func(a map[string]any) { a["aud"] = "https://other.example.com/mcp" }), 401, "not meant for this resource"},
		{"wrong aud array", activeAnswer(func(a map[string]any) { a["aud"] = []string{"a", "b"} }), 401, "not meant for this resource"},
		{"wrong iss", activeAnswer(func(a map[string]any) { a["iss"] = "https://evil.example.com" }), 401, "not issued by the expected issuer"},
		{"no iss", activeAnswer(func(a map[string]any) { delete(a, "iss") }), 200, ""},
		{"expired", activeAnswer(func(a map[string]any) { a["exp"] = time.Now().Add(-time.Minute).Unix() }), 401, "expired"},
		{"no exp", activeAnswer(func(a map[string]any) { delete(a, "exp") }), 200, ""},
		{"nbf future", activeAnswer(func(a map[string]any) { a["nbf"] = time.Now().Add(2 * time.Minute).Unix() }), 401, "not valid yet"},
		{"refresh token", activeAnswer(func(a map[string]any) { a["token_type"] = "refresh_token" }), 401, "not a bearer token"},
		{"DPoP", activeAnswer(func(a map[string]any) { a["token_type"] = "DPoP" }), 401, "not a bearer token"},
		{"cnf", activeAnswer(func(a map[string]any) { a["cnf"] = map[string]any{"x5t#S256": "abc"} }), 401, "sender-constrained"},
		{"no sub: client_id", activeAnswer(func(a map[string]any) { delete(a, "sub") }), 200, ""},
		{"no sub, no client_id", activeAnswer(func(a map[string]any) { delete(a, "sub"); delete(a, "client_id") }), 401, "no sub or client_id"},
		{"active not a bool", activeAnswer(func(a map[string]any) { a["active"] = "true" }), 503, "retry later"},
		{"exp a string", activeAnswer(func(a map[string]any) { a["exp"] = "soon" }), 503, "retry later"},
		{"aud a number", activeAnswer(func(a map[string]any) { a["aud"] = 7 }), 503, "retry later"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := fmt.Sprintf("opaque-%d+/=", i)
			if tt.answer != nil {
				as.set(tok, tt.answer)
			}
			next := &spy{}
			res := serve(t, m, next, post(callSearch, tok))
			if res.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.status, res.body)
			}
			if !strings.Contains(res.body, tt.desc) {
				t.Errorf("body %s lacks %q", res.body, tt.desc)
			}
			switch tt.status {
			case 401:
				if got := res.header.Get("WWW-Authenticate"); got != challenge401 {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			case 503:
				if res.header.Get("Retry-After") != "5" || res.header.Get("WWW-Authenticate") != "" {
					t.Errorf("503 headers %v", res.header)
				}
			}
			if (next.calls == 1) != (tt.status == 200) {
				t.Errorf("forwarded %d times", next.calls)
			}
			if tt.status == 200 && next.header.Get("Authorization") != "" {
				t.Error("Authorization reached the backend")
			}
		})
	}
	if bad := as.bad.Load(); bad != nil {
		t.Errorf("the endpoint got a bad request: %v", bad)
	}
}

func TestIntrospectionPrincipal(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) { m.Introspection.RolesClaim = "realm_access.roles" })
	as.set("opaque-alice", activeAnswer(func(a map[string]any) {
		a["scope"] = "mcp:read openid"
		a["realm_access"] = map[string]any{"roles": []string{"deleter", "not-a-role"}}
	}))
	next := &spy{}
	res := serve(t, m, next, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_x"}}`, "opaque-alice"))
	if res.status != 200 || next.calls != 1 {
		t.Fatalf("status %d calls %d body %s", res.status, next.calls, res.body)
	}
	for k, want := range map[string]string{
		"http.auth.user.id":        "alice",
		"http.auth.user.roles":     "deleter,reader",
		"http.auth.user.scopes":    "mcp:read openid",
		"http.auth.user.client_id": "client-1",
		// The same principal as a JWT of the same issuer and sub.
		"http.mcp_auth.principal": "jwt:" + testIssuer + "#alice",
	} {
		if got, _ := res.repl.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// A client-credentials token without sub is its client, in the
	// clients' namespace; without iss the issuer is the authorization
	// server.
	as.set("opaque-cc", activeAnswer(func(a map[string]any) { delete(a, "sub"); delete(a, "iss") }))
	res = serve(t, m, &spy{}, post(listTools, "opaque-cc"))
	if got, _ := res.repl.GetString("http.mcp_auth.principal"); got != "jwt:"+testIssuer+"#client:client-1" {
		t.Errorf("client credentials principal = %q", got)
	}
	if got, _ := res.repl.GetString("http.auth.user.id"); got != "client-1" {
		t.Errorf("client credentials user id = %q", got)
	}

	// Step-up works as for JWTs: a reader denied a tool that mcp:admin
	// would grant.
	res = serve(t, m, &spy{}, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run"}}`, "opaque-cc"))
	if res.status != 403 || !strings.Contains(res.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(res.header.Get("WWW-Authenticate"), `scope="mcp:read mcp:admin"`) {
		t.Errorf("step-up: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}

	// The metadata: resource and authorization server as configured,
	// scopes from the introspection block's scope_role.
	r := httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil)
	res = serve(t, m, &spy{}, r)
	var doc map[string]any
	if err := json.Unmarshal([]byte(res.body), &doc); err != nil || res.status != 200 {
		t.Fatalf("PRM: %d %s", res.status, res.body)
	}
	if doc["resource"] != testResource || fmt.Sprint(doc["authorization_servers"]) != "["+testIssuer+"]" || fmt.Sprint(doc["scopes_supported"]) != "[mcp:read mcp:admin]" {
		t.Errorf("PRM %s", res.body)
	}
	if res := serve(t, m, &spy{}, post(listTools, "")); res.status != 401 || res.header.Get("WWW-Authenticate") != challengeMissing {
		t.Errorf("missing token: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

// TestIntrospectionThrottle: active:false counts as a wrong credential;
// an authorization server that is down does not.
func TestIntrospectionThrottle(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	as.set("good", activeAnswer(nil))
	as.fail(http.StatusBadGateway, nil)
	for i := 0; i < 10; i++ {
		if res := serve(t, m, &spy{}, post(listTools, fmt.Sprint("down-", i))); res.status != 503 {
			t.Fatalf("AS down %d: %d", i, res.status)
		}
	}
	// The backoff kept the others from reaching the endpoint.
	if n := as.calls.Load(); n != 1 {
		t.Errorf("%d introspection requests while the AS answered 502, want 1", n)
	}
	as.fail(http.StatusOK, nil)
	clearBackoff(introOf(m))
	if res := serve(t, m, &spy{}, post(listTools, "good")); res.status != 200 {
		t.Fatalf("503s were counted: %d", res.status)
	}
	for i := 0; i < 3; i++ {
		if res := serve(t, m, &spy{}, post(listTools, fmt.Sprint("guess-", i))); res.status != 401 {
			t.Fatalf("inactive %d: %d", i, res.status)
		}
	}
	calls := as.calls.Load()
	if res := serve(t, m, &spy{}, post(listTools, "good-but-uncached")); res.status != 429 {
		t.Errorf("after 3 inactive tokens: %d, want 429", res.status)
	}
	if as.calls.Load() != calls {
		t.Error("a throttled client still caused an introspection request")
	}
}

func TestIntrospectionServerDown(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) { m.Introspection.Timeout = caddy.Duration(200 * time.Millisecond) })
	logs := observe(m)
	for _, tc := range []struct {
		name   string
		status int
		raw    []byte
		delay  time.Duration
		want   int
	}{
		{"500", http.StatusInternalServerError, nil, 0, 503},
		{"429", http.StatusTooManyRequests, nil, 0, 503},
		{"garbled", http.StatusOK, []byte("<html>oops</html>"), 0, 503},
		{"array", http.StatusOK, []byte(`[{"active":true}]`), 0, 503},
		{"oversized", http.StatusOK, []byte(`{"active":true,"x":"` + strings.Repeat("a", maxIntrospectionBody) + `"}`), 0, 503},
		{"timeout", http.StatusOK, nil, time.Second, 503},
		{"401 from the AS", http.StatusUnauthorized, nil, 0, 401},
		{"redirect", http.StatusFound, nil, 0, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.fail(tc.status, tc.raw)
			as.mu.Lock()
			as.delay = tc.delay
			as.mu.Unlock()
			clearBackoff(introOf(m))
			start := time.Now()
			res := serve(t, m, &spy{}, post(listTools, "opaque-"+strings.ReplaceAll(tc.name, " ", "-")))
			if res.status != tc.want {
				t.Fatalf("status %d, want %d: %s", res.status, tc.want, res.body)
			}
			if tc.want == 503 && res.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if d := time.Since(start); d > 900*time.Millisecond {
				t.Errorf("took %s with a 200ms timeout", d)
			}
			// Static tokens keep working.
			if res := serve(t, m, &spy{}, post(listTools, bobToken)); res.status != 200 {
				t.Errorf("static token: %d", res.status)
			}
		})
	}
	as.mu.Lock()
	as.delay = 0
	as.mu.Unlock()

	// The server goes away entirely.
	as.Close()
	clearBackoff(introOf(m))
	if res := serve(t, m, &spy{}, post(listTools, "opaque-x")); res.status != 503 {
		t.Errorf("server closed: %d", res.status)
	}
	clearBackoff(introOf(m))
	introOf(m).lastWarn.Store(0)
	serve(t, m, &spy{}, post(listTools, "opaque-y"))
	if logs.FilterMessageSnippet("token introspection failed").Len() == 0 {
		t.Error("no WARN about the failing authorization server")
	}
}

func TestIntrospectionCache(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Introspection.CacheSize = 4
		m.Introspection.MaxCacheTTL = caddy.Duration(10 * time.Minute)
	})
	o := introOf(m)
	now := time.Now()
	o.now = func() time.Time { return now }
	as.set("tok", activeAnswer(func(a map[string]any) { a["exp"] = now.Add(time.Minute).Unix() }))
	for i := 0; i < 5; i++ {
		if res := serve(t, m, &spy{}, post(listTools, "tok")); res.status != 200 {
			t.Fatalf("request %d: %d %s", i, res.status, res.body)
		}
	}
	if n := as.calls.Load(); n != 1 {
		t.Fatalf("endpoint called %d times for 5 requests, want 1", n)
	}
	// Never past exp: the cached answer is not used after it; the
	// endpoint is asked again (and its answer refused: expired).
	now = now.Add(2 * time.Minute)
	if res := serve(t, m, &spy{}, post(listTools, "tok")); res.status == 200 {
		t.Error("cached answer used past exp")
	}
	if n := as.calls.Load(); n != 2 {
		t.Errorf("endpoint called %d times, want 2", n)
	}

	// max_cache_ttl bounds an answer without exp (and one with a far exp).
	m2 := newIntroHandler(t, as.URL, func(m *MCPAuth) { m.Introspection.MaxCacheTTL = caddy.Duration(30 * time.Second) })
	o2 := introOf(m2)
	now2 := time.Now()
	o2.now = func() time.Time { return now2 }
	as.set("noexp", activeAnswer(func(a map[string]any) { delete(a, "exp") }))
	base := as.calls.Load()
	serve(t, m2, &spy{}, post(listTools, "noexp"))
	now2 = now2.Add(29 * time.Second)
	serve(t, m2, &spy{}, post(listTools, "noexp"))
	if n := as.calls.Load() - base; n != 1 {
		t.Errorf("within max_cache_ttl: %d calls, want 1", n)
	}
	now2 = now2.Add(2 * time.Second)
	if res := serve(t, m2, &spy{}, post(listTools, "noexp")); res.status != 200 {
		t.Fatalf("noexp after ttl: %d", res.status)
	}
	if n := as.calls.Load() - base; n != 2 {
		t.Errorf("after max_cache_ttl: %d calls, want 2", n)
	}
	// A token without exp gets a principal that expires with the cache
	// entry, so a GET stream opened with it ends then.
	p := o2.cache.get(digestOf("noexp"), now2)
	if p == nil || p.exp.Sub(now2) > 30*time.Second || p.exp.Sub(now2) <= 29*time.Second {
		t.Errorf("principal %v, now %v", p, now2)
	}

	// Revocation is noticed after max_cache_ttl.
	as.set("noexp", map[string]any{"active": false})
	now2 = now2.Add(31 * time.Second)
	if res := serve(t, m2, &spy{}, post(listTools, "noexp")); res.status != 401 {
		t.Errorf("revoked: %d", res.status)
	}

	// Bounded.
	for i := 0; i < 20; i++ {
		tok := fmt.Sprint("many-", i)
		as.set(tok, activeAnswer(nil))
		if res := serve(t, m, &spy{}, post(listTools, tok)); res.status != 200 {
			t.Fatalf("%s: %d", tok, res.status)
		}
	}
	if n := o.cache.len(); n > 4 {
		t.Errorf("cache holds %d entries, limit 4", n)
	}
}

// TestIntrospectionCoalesced: concurrent requests with one new token cause
// one introspection request.
func TestIntrospectionCoalesced(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, nil)
	as.set("tok", activeAnswer(nil))
	as.mu.Lock()
	as.delay = 100 * time.Millisecond
	as.mu.Unlock()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, rej := checkOAuth(m, context.Background(), "tok")
			if rej == nil && p.name == "alice" {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 20 || as.calls.Load() != 1 {
		t.Errorf("%d accepted, %d introspection requests; want 20 and 1", ok.Load(), as.calls.Load())
	}
}

// TestIntrospectionWithJWT: JWT-shaped tokens go to jwt, others to
// introspection; without jwt, JWT-shaped tokens are introspected too.
func TestIntrospectionWithJWT(t *testing.T) {
	keys(t)
	jwks := newJWKSServer(t, rsaKey1S)
	as := newIntroServer(t)
	t.Setenv(introEnv, introSecret)
	m := newOAuthHandler(t, jwks.URL, func(m *MCPAuth) {
		m.Introspection = introConfig(as.URL)
		m.Introspection.ScopeRoles = nil
	})
	waitKeys(t, m)
	jwtTok := sign(t, rsaKey1S, goodClaims())
	if res := serve(t, m, &spy{}, post(listTools, jwtTok)); res.status != 200 {
		t.Fatalf("jwt: %d %s", res.status, res.body)
	}
	forged := sign(t, testKey{"rsa-1", rsaKey1S.alg, rsaOther}, goodClaims())
	if res := serve(t, m, &spy{}, post(listTools, forged)); res.status != 401 {
		t.Fatalf("forged jwt: %d", res.status)
	}
	if n := as.calls.Load(); n != 0 {
		t.Errorf("JWT-shaped tokens were introspected (%d calls)", n)
	}
	// The opaque token maps roles with the jwt block's scope_role, and is
	// the same principal as the JWT.
	as.set("opaque", activeAnswer(func(a map[string]any) { a["scope"] = "mcp:admin" }))
	res := serve(t, m, &spy{}, post(listTools, "opaque"))
	if res.status != 200 {
		t.Fatalf("opaque: %d %s", res.status, res.body)
	}
	if got, _ := res.repl.GetString("http.auth.user.roles"); got != "admin" {
		t.Errorf("roles %q", got)
	}
	if got, _ := res.repl.GetString("http.mcp_auth.principal"); got != "jwt:"+testIssuer+"#alice" {
		t.Errorf("principal %q", got)
	}
	// With jwt, iss must be the jwt issuer.
	as.set("other-iss", activeAnswer(func(a map[string]any) { a["iss"] = "https://other.example.com" }))
	if res := serve(t, m, &spy{}, post(listTools, "other-iss")); res.status != 401 {
		t.Errorf("other iss: %d", res.status)
	}

	// Without jwt, a JWT-shaped token is introspected.
	only := newIntroHandler(t, as.URL, nil)
	as.set(jwtTok, activeAnswer(nil))
	if res := serve(t, only, &spy{}, post(listTools, jwtTok)); res.status != 200 {
		t.Errorf("JWT-shaped token, introspection only: %d %s", res.status, res.body)
	}
}

// TestIntrospectionSecretNeverShown: the client secret and tokens appear in
// no log entry, refusal or provisioning error.
func TestIntrospectionSecretNeverShown(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, nil)
	logs := observe(m)
	var bodies []string
	for _, f := range []func(){
		func() { as.fail(http.StatusInternalServerError, nil) },
		func() { as.fail(http.StatusUnauthorized, nil) },
		func() { as.fail(http.StatusOK, []byte("garbage")) },
		func() { as.fail(http.StatusOK, nil) },
	} {
		f()
		clearBackoff(introOf(m))
		introOf(m).lastWarn.Store(0)
		m.state.last503Log.Store(0)
		bodies = append(bodies, serve(t, m, &spy{}, post(listTools, "opaque-token-value")).body)
	}
	as.Close()
	clearBackoff(introOf(m))
	introOf(m).lastWarn.Store(0)
	bodies = append(bodies, serve(t, m, &spy{}, post(listTools, "opaque-token-value")).body)
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	var all strings.Builder
	for _, e := range logs.All() {
		all.WriteString(e.Message)
		b, _ := json.Marshal(e.ContextMap())
		all.Write(b)
	}
	all.WriteString(strings.Join(bodies, ""))
	for _, s := range []string{introSecret, "s3cr3t", "opaque-token-value", introOf(m).basicAuth[len("Basic "):]} {
		if strings.Contains(all.String(), s) {
			t.Errorf("%q shown in logs or refusals:\n%s", s, all.String())
		}
	}

	// Provisioning errors name the placeholder, never the value.
	t.Setenv(introEnv, introSecret)
	err := provisionErr(t, func(m *MCPAuth) {
		m.Introspection = introConfig("ftp://auth.example.com/introspect")
		m.ResourceMetadata = &ResourceMetadata{Resource: testResource, AuthorizationServers: []string{testIssuer}}
	})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("err = %v", err)
	}
	err = provisionErr(t, func(m *MCPAuth) {
		m.Introspection = introConfig("https://auth.example.com/introspect")
		m.Introspection.ClientSecret = "literal-s3cr3t"
		m.Introspection.Timeout = caddy.Duration(time.Hour)
		m.ResourceMetadata = &ResourceMetadata{Resource: testResource, AuthorizationServers: []string{testIssuer}}
	})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("err = %v", err)
	}
}

func TestIntrospectionCleanupAborts(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) { m.Introspection.Timeout = caddy.Duration(30 * time.Second) })
	as.mu.Lock()
	as.delay = 20 * time.Second
	as.mu.Unlock()
	done := make(chan int)
	go func() {
		_, rej := checkOAuth(m, context.Background(), "slow")
		if rej == nil {
			done <- 200
			return
		}
		done <- rej.status
	}()
	for as.calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	_ = m.Cleanup()
	select {
	case st := <-done:
		if st != 503 {
			t.Errorf("aborted request: %d", st)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Cleanup did not abort the introspection request")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("abort took %s", d)
	}
}

func TestIntrospectionProvisionErrors(t *testing.T) {
	rm := &ResourceMetadata{Resource: testResource, AuthorizationServers: []string{testIssuer}}
	tests := []struct {
		name   string
		mutate func(*MCPAuth)
		want   string
	}{
		{"no url", func(m *MCPAuth) { m.Introspection.URL = "" }, "introspection: url is required"},
		{"url with user info", func(m *MCPAuth) { m.Introspection.URL = "https://u:pw@auth.example.com/i" }, "must not hold user info"},
		{"no client_id", func(m *MCPAuth) { m.Introspection.ClientID = "" }, "introspection: client_id is required"},
		{"no secret", func(m *MCPAuth) { m.Introspection.ClientSecret = "" }, "introspection: client_secret is required"},
		{"unset env", func(m *MCPAuth) { m.Introspection.ClientSecret = "{env.MCP_TEST_UNSET_VAR}" }, "introspection: client_secret {env.MCP_TEST_UNSET_VAR}: evaluated placeholder {env.MCP_TEST_UNSET_VAR} is empty"},
		{"missing file", func(m *MCPAuth) { m.Introspection.ClientSecret = "{file./nonexistent/secret}" }, "introspection: client_secret {file./nonexistent/secret}:"},
		{"timeout", func(m *MCPAuth) { m.Introspection.Timeout = caddy.Duration(time.Hour) }, "introspection: timeout 1h0m0s is outside"},
		{"cache_size", func(m *MCPAuth) { m.Introspection.CacheSize = -1 }, "introspection: cache_size -1 is negative"},
		{"max_cache_ttl", func(m *MCPAuth) { m.Introspection.MaxCacheTTL = -1 }, "introspection: max_cache_ttl is negative"},
		{"unknown role", func(m *MCPAuth) { m.Introspection.ScopeRoles = []ScopeRole{{Scope: "s", Roles: []string{"ghost"}}} },
			`introspection: scope_roles[0] (s): unknown role "ghost"`},
		{"no resource_metadata", func(m *MCPAuth) { m.ResourceMetadata = nil }, "introspection: without jwt, resource_metadata with resource and authorization_servers is required"},
		{"no authorization server", func(m *MCPAuth) { m.ResourceMetadata = &ResourceMetadata{Resource: testResource} }, "introspection: without jwt, resource_metadata"},
		{"invalid_token 403", func(m *MCPAuth) { m.InvalidTokenStatus = 403 }, "invalid_token 403 cannot be used with jwt or introspection"},
		{"mapping in both blocks", func(m *MCPAuth) { m.JWT = jwtConfig("https://auth.example.com/jwks") },
			"introspection: roles_claim and scope_role belong in the jwt block"},
		{"resource with query", func(m *MCPAuth) {
			m.ResourceMetadata = &ResourceMetadata{Resource: testResource + "?x", AuthorizationServers: []string{testIssuer}}
		}, "must not have a query"},
	}
	t.Setenv(introEnv, introSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := provisionErr(t, func(m *MCPAuth) {
				m.Introspection = introConfig("https://auth.example.com/introspect")
				m.ResourceMetadata = rm
				tt.mutate(m)
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), introSecret) {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}

	// A literal secret in JSON is accepted (the operator wrote it there;
	// the Caddyfile refuses one).
	if err := provisionErr(t, func(m *MCPAuth) {
		m.Introspection = introConfig("https://auth.example.com/introspect")
		m.Introspection.ClientSecret = "literal"
		m.ResourceMetadata = rm
	}); err != nil {
		t.Errorf("literal JSON secret: %v", err)
	}
}

func TestIntrospectionCaddyfile(t *testing.T) {
	good := `mcp_auth {
		role reader {
			allow tools/list
		}
		introspection {
			url           https://auth.example.com/token/introspect
			client_id     mcp-gateway
			client_secret {env.MCP_INTROSPECTION_SECRET}
			timeout       3s
			cache_size    500
			max_cache_ttl 30s
			roles_claim   realm_access.roles
			scope_role    mcp:read reader
			scope_role    mcp:admin reader
		}
		resource_metadata {
			resource              https://mcp.example.com/mcp
			authorization_servers https://auth.example.com
		}
	}`
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(good)); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(m.Introspection)
	want := `{"url":"https://auth.example.com/token/introspect","client_id":"mcp-gateway","client_secret":"{env.MCP_INTROSPECTION_SECRET}","timeout":3000000000,"cache_size":500,"max_cache_ttl":30000000000,"roles_claim":"realm_access.roles","scope_roles":[{"scope":"mcp:read","roles":["reader"]},{"scope":"mcp:admin","roles":["reader"]}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	block := func(body string) string {
		return "mcp_auth {\n role r {\n allow *\n }\n introspection {\n" + body + "\n }\n}"
	}
	const base = "url https://a.example/introspect\n client_id gw\n client_secret {env.X}\n"
	bad := []struct{ name, in, err string }{
		{"argument", "mcp_auth {\n introspection x {\n }\n}", "wrong argument count"},
		{"no url", block("client_id gw\n client_secret {env.X}"), "introspection: url is required"},
		{"no client_id", block("url https://a.example/i\n client_secret {env.X}"), "introspection: client_id is required"},
		{"no secret", block("url https://a.example/i\n client_id gw"), "introspection: client_secret is required"},
		{"literal secret", block("url https://a.example/i\n client_id gw\n client_secret hunter2-literal"), "client_secret: use an {env.*} or {file.*} placeholder, so the secret stays out of the JSON config, at Testfile:8"},
		{"two secrets", block("url https://a.example/i\n client_id gw\n client_secret {env.X} hunter2-literal"), "client_secret: want exactly one value, got 2"},
		{"url not http", block("url ftp://a.example/i\n client_id gw\n client_secret {env.X}"), "not an http(s) URL"},
		{"url user info", block("url https://u:hunter2-literal@a.example/i\n client_id gw\n client_secret {env.X}"), "must not hold user info"},
		{"two urls", block("url https://a.example/i https://b.example/i\n client_id gw\n client_secret {env.X}"), "url: want exactly one value, got 2"},
		{"duplicate url", block(base + "url https://b.example/i"), "introspection: duplicate url"},
		{"timeout garbage", block(base + "timeout soon"), "timeout: want a duration"},
		{"timeout too long", block(base + "timeout 2m"), "timeout: at most 1m0s"},
		{"max_cache_ttl zero", block(base + "max_cache_ttl 0s"), "max_cache_ttl: want a duration"},
		{"cache_size", block(base + "cache_size 0"), "cache_size: want a positive number"},
		{"scope_role args", block(base + "scope_role mcp:read"), "introspection: scope_role: want <scope> <role...>, got 1 argument(s)"},
		{"scope_role bad scope", block(base + "scope_role `a\"b` r"), "introspection: scope_role: \"a\\\"b\" is not a valid scope"},
		{"unknown", block(base + "frobnicate 1"), "unrecognized introspection subdirective 'frobnicate'"},
		{"nested block", block(base + "timeout 5s {\n x\n }"), "unexpected block"},
		{"duplicate block", "mcp_auth {\n introspection {\n" + base + " }\n introspection {\n" + base + " }\n}", "duplicate introspection subdirective"},
		{"invalid_token 403", "mcp_auth {\n invalid_token 403\n introspection {\n" + base + " }\n}", "invalid_token 403 cannot be used with jwt or introspection"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var m MCPAuth
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want …%s…", err, tt.err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}

	// introspection alone suffices (no token, no jwt).
	var only MCPAuth
	if err := only.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block(base))); err != nil {
		t.Errorf("introspection alone: %v", err)
	}
}

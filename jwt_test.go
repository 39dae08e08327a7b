package mcpauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	testIssuer   = "https://auth.example.com"
	testResource = "https://mcp.example.com/mcp"
	testPRMURL   = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
)

// testKey is a signing key with its kid.
type testKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

var (
	keyOnce            sync.Once
	rsaKey1, rsaKey2   *rsa.PrivateKey
	rsaOther, ecKey1   crypto.Signer
	edKey1             ed25519.PrivateKey
	rsaKey1S, rsaKey2S testKey
	ecKeyS, edKeyS     testKey
)

// keys generates the test keys once per test binary (RSA generation is slow
// under -race).
func keys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if rsaKey1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaOther = other
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		ecKey1 = ec
		_, edKey1, err = ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		rsaKey1S = testKey{"rsa-1", jose.RS256, rsaKey1}
		rsaKey2S = testKey{"rsa-2", jose.RS256, rsaKey2}
		ecKeyS = testKey{"ec-1", jose.ES256, ec}
		edKeyS = testKey{"ed-1", jose.EdDSA, edKey1}
	})
}

// jwksOf renders the public JWKS of keys.
func jwksOf(ks ...testKey) []byte {
	set := jose.JSONWebKeySet{}
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// claims are the default claims of a good token, changed by mutate.
func goodClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":       testIssuer,
		"sub":       "alice",
		"aud":       testResource,
		"exp":       now.Add(5 * time.Minute).Unix(),
		"iat":       now.Unix(),
		"scope":     "mcp:read",
		"client_id": "client-1",
	}
}

func sign(t testing.TB, k testKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwksServer serves a key set that tests can swap, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	cc      string
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, ks ...testKey) *jwksServer {
	s := &jwksServer{body: jwksOf(ks...), status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status, cc := s.body, s.status, s.cc
		s.mu.Unlock()
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, ks ...testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
	s.body = jwksOf(ks...)
}

// jwtConfig is the JWT config of the tests, with roles from testRoles.
func jwtConfig(jwksURL string) *JWTConfig {
	return &JWTConfig{
		Issuer:     testIssuer,
		JWKSURL:    jwksURL,
		Audiences:  []string{testResource},
		ScopeRoles: []ScopeRole{{Scope: "mcp:read", Roles: []string{"reader"}}, {Scope: "mcp:admin", Roles: []string{"admin"}}, {Scope: "mcp:delete", Roles: []string{"deleter"}}},
	}
}

// newOAuthHandler provisions a handler with static tokens and jwt, and
// cleans it up after the test.
func newOAuthHandler(t testing.TB, jwksURL string, mutate func(*MCPAuth)) *MCPAuth {
	t.Helper()
	keys(t)
	m := newHandler(t, func(m *MCPAuth) {
		m.JWT = jwtConfig(jwksURL)
		if mutate != nil {
			mutate(m)
		}
	})
	t.Cleanup(func() { _ = m.Cleanup() })
	return m
}

// waitKeys waits until the handler's key source has a key set.
func waitKeys(t testing.TB, m *MCPAuth) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for jwtOf(m).keys.current() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no key set after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	challenge401     = `Bearer realm="mcp", error="invalid_token", resource_metadata="` + testPRMURL + `"`
	challengeMissing = `Bearer realm="mcp", resource_metadata="` + testPRMURL + `"`
	callSearch       = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_docs"}}`
	listTools        = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
)

func TestJWTRejections(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S, ecKeyS, edKeyS)
	m := newOAuthHandler(t, srv.URL, nil)
	waitKeys(t, m)

	with := func(change func(map[string]any)) map[string]any {
		c := goodClaims()
		change(c)
		return c
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey1.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func() string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, (&jose.SignerOptions{}).WithHeader("kid", "rsa-1"))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := jwt.Signed(s).Claims(goodClaims()).Serialize()
		return tok
	}
	good := sign(t, rsaKey1S, goodClaims())
	parts := strings.Split(good, ".")
	forged := testKey{"rsa-1", jose.RS256, rsaOther.(*rsa.PrivateKey)}

	tests := []struct {
		name   string
		token  string
		status int
		hdr    string
		desc   string
	}{
		{"good RS256", good, 200, "", ""},
		{"good ES256", sign(t, ecKeyS, goodClaims()), 200, "", ""},
		{"good EdDSA", sign(t, edKeyS, goodClaims()), 200, "", ""},
		{"aud array", sign(t, rsaKey1S, with(func(c map[string]any) { c["aud"] = []string{"other", testResource} })), 200, "", ""},
		{"missing", "", 401, challengeMissing, "a bearer token is required"},
		{"bad signature", sign(t, forged, goodClaims()), 401, challenge401, "signature is invalid"},
		{"tampered payload", parts[0] + "." + b64(with(func(c map[string]any) { c["scope"] = "mcp:admin" })) + "." + parts[2], 401, challenge401, "signature is invalid"},
		{"alg none", b64(map[string]string{"alg": "none", "kid": "rsa-1"}) + "." + parts[1] + ".", 401, challenge401, "algorithm that is not accepted"},
		{"HS256 with the public key", hs256(), 401, challenge401, "algorithm that is not accepted"},
		{"wrong iss", sign(t, rsaKey1S, with(func(c map[string]any) { c["iss"] = "https://evil.example.com" })), 401, challenge401, "not issued by the expected issuer"},
		{"wrong aud", sign(t, rsaKey1S, with(func(c map[string]any) { c["aud"] = "https://other.example.com/mcp" })), 401, challenge401, "not meant for this resource"},
		{"no aud", sign(t, rsaKey1S, with(func(c map[string]any) { delete(c, "aud") })), 401, challenge401, "not meant for this resource"},
		{"expired", sign(t, rsaKey1S, with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), 401, challenge401, "expired"},
		{"expired within leeway", sign(t, rsaKey1S, with(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })), 200, "", ""},
		{"no exp", sign(t, rsaKey1S, with(func(c map[string]any) { delete(c, "exp") })), 401, challenge401, "no exp"},
		{"nbf future", sign(t, rsaKey1S, with(func(c map[string]any) { c["nbf"] = time.Now().Add(2 * time.Minute).Unix() })), 401, challenge401, "not valid yet"},
		{"iat future", sign(t, rsaKey1S, with(func(c map[string]any) { c["iat"] = time.Now().Add(2 * time.Minute).Unix() })), 401, challenge401, "issued in the future"},
		{"no sub", sign(t, rsaKey1S, with(func(c map[string]any) { delete(c, "sub") })), 401, challenge401, "no sub"},
		{"unknown kid", sign(t, testKey{"rsa-9", jose.RS256, rsaKey2}, goodClaims()), 401, challenge401, "unknown key"},
		{"kid of another key type", sign(t, testKey{"ec-1", jose.RS256, rsaKey1}, goodClaims()), 401, challenge401, "unknown key"},
		{"oversized", good + strings.Repeat("A", maxTokenSize), 401, challenge401, "too large"},
		{"garbled", "abc.def.ghi", 401, challenge401, "malformed"},
		{"garbled header", "e30.e30.", 401, challenge401, "malformed"},
		{"not a JWT", "some-opaque-token", 401, challenge401, "not known"},
		{"claims not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + parts[2], 401, challenge401, "claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &spy{}
			res := serve(t, m, next, post(callSearch, tt.token))
			if res.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.status, res.body)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.hdr {
				t.Errorf("WWW-Authenticate = %q\nwant             %q", got, tt.hdr)
			}
			if !strings.Contains(res.body, tt.desc) {
				t.Errorf("body %s lacks %q", res.body, tt.desc)
			}
			if (next.calls == 1) != (tt.status == 200) {
				t.Errorf("forwarded %d times", next.calls)
			}
			if tt.status == 200 && (next.header.Get("Authorization") != "") {
				t.Error("Authorization reached the backend")
			}
		})
	}
}

func TestJWTPrincipalAndPlaceholders(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.RolesClaim = "realm_access.roles" })
	waitKeys(t, m)
	c := goodClaims()
	c["sub"] = "alice"
	c["scope"] = "mcp:read openid"
	c["realm_access"] = map[string]any{"roles": []string{"deleter", "not-a-role"}}
	next := &spy{}
	res := serve(t, m, next, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_x"}}`, sign(t, rsaKey1S, c)))
	if res.status != 200 || next.calls != 1 {
		t.Fatalf("status %d calls %d body %s", res.status, next.calls, res.body)
	}
	for k, want := range map[string]string{
		"http.auth.user.id":        "alice",
		"http.auth.user.roles":     "deleter,reader",
		"http.auth.user.scopes":    "mcp:read openid",
		"http.auth.user.client_id": "client-1",
		"http.mcp_auth.principal":  "jwt:" + testIssuer + "#alice",
	} {
		if got, _ := res.repl.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	// A static token named like the sub is another principal.
	static := serve(t, m, &spy{}, post(listTools, aliceToken))
	if got, _ := static.repl.GetString("http.mcp_auth.principal"); got != "token:alice" {
		t.Errorf("static principal = %q", got)
	}
	if _, ok := static.repl.Get("http.auth.user.scopes"); ok {
		t.Error("static token has scopes")
	}

	// scp as an array (Entra), and as a string; scope wins over scp.
	for _, tc := range []struct {
		claim any
		field string
		want  string
	}{
		{[]string{"mcp:read", "mcp:admin"}, "scp", "mcp:read mcp:admin"},
		{"mcp:admin", "scp", "mcp:admin"},
		{"bad\"scope mcp:read", "scope", "mcp:read"},
	} {
		c := goodClaims()
		delete(c, "scope")
		c[tc.field] = tc.claim
		res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, c)))
		if got, _ := res.repl.GetString("http.auth.user.scopes"); got != tc.want {
			t.Errorf("%s %v: scopes %q, want %q", tc.field, tc.claim, got, tc.want)
		}
	}
}

func TestClaimAt(t *testing.T) {
	obj := map[string]any{
		"realm_access":                 map[string]any{"roles": []any{"a"}},
		"https://example.com/roles":    []any{"b"},
		"resource_access":              map[string]any{"mcp.client": map[string]any{"roles": "c d"}},
		"https://example.com/nested.x": map[string]any{"y": "e"},
	}
	for path, want := range map[string]string{
		"realm_access.roles":               "a",
		"https://example.com/roles":        "b",
		"resource_access.mcp.client.roles": "c d",
		"https://example.com/nested.x.y":   "e",
		"missing.path":                     "",
	} {
		if got := strings.Join(stringList(claimAt(obj, path)), " "); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
}

func TestStepUp(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) {
		m.ChallengeScope = []string{"mcp:read"}
		m.DenyWith = denyStatus
	})
	waitKeys(t, m)
	readTok := sign(t, rsaKey1S, goodClaims())
	c := goodClaims()
	delete(c, "scope")
	noScopeTok := sign(t, rsaKey1S, c)

	tests := []struct {
		name, token, body string
		status            int
		hdr               string
	}{
		// reader may not call delete_x; admin denies delete_*, deleter grants it.
		{"reader calls delete_x", readTok, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_x"}}`, 403,
			`Bearer realm="mcp", error="insufficient_scope", resource_metadata="` + testPRMURL + `", scope="mcp:read mcp:delete"`},
		{"reader calls other tool", readTok, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run"}}`, 403,
			`Bearer realm="mcp", error="insufficient_scope", resource_metadata="` + testPRMURL + `", scope="mcp:read mcp:admin"`},
		{"no scope lists tools", noScopeTok, listTools, 403,
			`Bearer realm="mcp", error="insufficient_scope", resource_metadata="` + testPRMURL + `", scope="mcp:read"`},
		{"no scope initializes", noScopeTok, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, 200, ""},
		{"static reader gets deny_with", bobToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_x"}}`, 403, ""},
		{"missing token names challenge scope", "", listTools, 401, `Bearer realm="mcp", resource_metadata="` + testPRMURL + `", scope="mcp:read"`},
		{"bad token names challenge scope", "nope", listTools, 401, `Bearer realm="mcp", error="invalid_token", resource_metadata="` + testPRMURL + `", scope="mcp:read"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, m, &spy{}, post(tt.body, tt.token))
			if res.status != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tt.status, res.body)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.hdr {
				t.Errorf("WWW-Authenticate = %q\nwant             %q", got, tt.hdr)
			}
		})
	}

	// hide_denied does not hide a step-up.
	m2 := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.HideDenied = &HideDenied{} })
	waitKeys(t, m2)
	res := serve(t, m2, &spy{}, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run"}}`, readTok))
	if res.status != 403 || !strings.Contains(res.header.Get("WWW-Authenticate"), `scope="mcp:read mcp:admin"`) {
		t.Errorf("hide_denied: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestJWKSRefetchRateLimit(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.RefetchInterval = caddy.Duration(300 * time.Millisecond) })
	waitKeys(t, m)
	base := srv.fetches.Load()

	// Rotation: the server publishes rsa-2; the first token with that kid
	// causes one refetch and is accepted.
	srv.set(http.StatusOK, rsaKey1S, rsaKey2S)
	tok2 := sign(t, rsaKey2S, goodClaims())
	if res := serve(t, m, &spy{}, post(listTools, tok2)); res.status != 200 {
		t.Fatalf("rotated key: %d %s", res.status, res.body)
	}
	if n := srv.fetches.Load() - base; n != 1 {
		t.Fatalf("fetches after rotation = %d, want 1", n)
	}

	// Forged tokens with unknown kids: no further fetch within the interval.
	for i := 0; i < 20; i++ {
		tok := sign(t, testKey{"forged-" + string(rune('a'+i)), jose.RS256, rsaOther}, goodClaims())
		if res := serve(t, m, &spy{}, post(listTools, tok)); res.status != 401 {
			t.Fatalf("forged %d: %d", i, res.status)
		}
	}
	if n := srv.fetches.Load() - base; n != 1 {
		t.Fatalf("fetches after forged storm = %d, want 1", n)
	}
	time.Sleep(350 * time.Millisecond)
	tok := sign(t, testKey{"forged-z", jose.RS256, rsaOther}, goodClaims())
	serve(t, m, &spy{}, post(listTools, tok))
	if n := srv.fetches.Load() - base; n != 2 {
		t.Fatalf("fetches after the interval = %d, want 2", n)
	}

	// The server goes down: the last good key set keeps serving.
	srv.set(http.StatusInternalServerError)
	time.Sleep(350 * time.Millisecond)
	serve(t, m, &spy{}, post(listTools, sign(t, testKey{"forged-y", jose.RS256, rsaOther}, goodClaims())))
	if res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, goodClaims()))); res.status != 200 {
		t.Fatalf("after a failed refetch: %d %s", res.status, res.body)
	}
}

func TestJWKS503BeforeFirstKeySet(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t)
	srv.set(http.StatusServiceUnavailable)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.RefetchInterval = caddy.Duration(100 * time.Millisecond) })
	tok := sign(t, rsaKey1S, goodClaims())
	res := serve(t, m, &spy{}, post(listTools, tok))
	if res.status != 503 || res.header.Get("Retry-After") != "5" {
		t.Fatalf("before keys: %d Retry-After %q %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	if res.header.Get("WWW-Authenticate") != "" {
		t.Error("503 carries a challenge")
	}
	// Static tokens keep working; a token of another issuer is 401 at once.
	if res := serve(t, m, &spy{}, post(listTools, bobToken)); res.status != 200 {
		t.Fatalf("static token: %d", res.status)
	}
	c := goodClaims()
	c["iss"] = "https://other.example.com"
	if res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, c))); res.status != 401 {
		t.Fatalf("other issuer: %d", res.status)
	}
	// The authorization server comes up: the next token after the refetch
	// interval is accepted.
	srv.set(http.StatusOK, rsaKey1S)
	time.Sleep(150 * time.Millisecond)
	if res := serve(t, m, &spy{}, post(listTools, tok)); res.status != 200 {
		t.Fatalf("after keys: %d %s", res.status, res.body)
	}
}

func TestJWKSSharedAcrossReloads(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	old := newOAuthHandler(t, srv.URL, nil)
	waitKeys(t, old)
	// The server goes down; a reload provisions a new handler, which
	// starts with the last good key set.
	srv.set(http.StatusInternalServerError)
	fresh := newOAuthHandler(t, srv.URL, nil)
	if jwtOf(fresh).keys.current() == nil {
		t.Fatal("the reloaded handler starts without keys")
	}
	_ = old.Cleanup()
	if res := serve(t, fresh, &spy{}, post(listTools, sign(t, rsaKey1S, goodClaims()))); res.status != 200 {
		t.Fatalf("after reload: %d %s", res.status, res.body)
	}
	_ = fresh.Cleanup()
	if _, ok := jwksPool.References("jwks:" + srv.URL); ok {
		t.Error("the fetcher outlives its last user")
	}
}

func TestTokenCache(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.CacheSize = 4 })
	waitKeys(t, m)
	o := jwtOf(m)
	c := goodClaims()
	c["exp"] = time.Now().Add(time.Minute).Unix()
	tok := sign(t, rsaKey1S, c)
	p1, rej := o.verify(context.Background(), tok, attempt{})
	if rej != nil {
		t.Fatal(rej.reason)
	}
	p2, _ := o.verify(context.Background(), tok, attempt{})
	if p1 != p2 {
		t.Error("second verification was not served from the cache")
	}
	// Never past exp: with the clock after exp the entry is not used (and
	// the token is refused).
	o.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if _, rej := o.verify(context.Background(), tok, attempt{}); rej == nil || !strings.Contains(rej.reason, "expired") {
		t.Errorf("cached token used past exp: %v", rej)
	}
	o.now = time.Now
	// Bounded.
	for i := 0; i < 20; i++ {
		c := goodClaims()
		c["sub"] = "user" + string(rune('a'+i))
		if _, rej := o.verify(context.Background(), sign(t, rsaKey1S, c), attempt{}); rej != nil {
			t.Fatal(rej.reason)
		}
	}
	if n := o.cache.len(); n > 4 {
		t.Errorf("cache holds %d entries, limit 4", n)
	}
}

func TestJWTStaticKeySources(t *testing.T) {
	keys(t)
	dir := t.TempDir()
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwksOf(ecKeyS), 0o600); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(rsaKey1.Public())
	pemPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(pemPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := newOAuthHandler(t, "", func(m *MCPAuth) { m.JWT.JWKSURL = ""; m.JWT.JWKSFile = jwksPath })
	if res := serve(t, fromFile, &spy{}, post(listTools, sign(t, ecKeyS, goodClaims()))); res.status != 200 {
		t.Fatalf("jwks_file: %d %s", res.status, res.body)
	}
	fromPEM := newOAuthHandler(t, "", func(m *MCPAuth) { m.JWT.JWKSURL = ""; m.JWT.PublicKeys = []string{pemPath} })
	if res := serve(t, fromPEM, &spy{}, post(listTools, sign(t, testKey{"any", jose.RS256, rsaKey1}, goodClaims()))); res.status != 200 {
		t.Fatalf("public_key: %d %s", res.status, res.body)
	}
	if res := serve(t, fromPEM, &spy{}, post(listTools, sign(t, ecKeyS, goodClaims()))); res.status != 401 {
		t.Fatalf("public_key, other key: %d", res.status)
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	keys(t)
	set := `{"keys":[
		{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA","kid":"hmac"},
		{"kty":"weird","kid":"x"},
		` + strings.TrimSuffix(strings.TrimPrefix(string(jwksOf(rsaKey1S)), `{"keys":[`), `]}`) + `]}`
	ks, skipped, err := parseJWKS([]byte(set))
	if err != nil || len(ks.keys) != 1 || skipped != 2 {
		t.Fatalf("keys %v skipped %d err %v", ks, skipped, err)
	}
	if _, _, err := parseJWKS([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)); err == nil {
		t.Error("a set of only symmetric keys was accepted")
	}
}

func TestCacheLifetime(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Cache-Control": {"public, max-age=600"}}, 10 * time.Minute},
		{http.Header{"Cache-Control": {"no-cache"}}, 0},
		{http.Header{"Expires": {now.Add(time.Hour).UTC().Format(http.TimeFormat)}}, time.Hour},
		{http.Header{}, -1},
	} {
		got := cacheLifetime(tc.h, now)
		if got < tc.want-time.Second || got > tc.want+time.Second {
			t.Errorf("%v: %s, want %s", tc.h, got, tc.want)
		}
	}
	if got := clampDuration(0, time.Minute, time.Hour); got != time.Minute {
		t.Errorf("clamp low: %s", got)
	}
	if got := clampDuration(-1, time.Minute, 24*time.Hour); got != time.Hour {
		t.Errorf("no headers: %s", got)
	}
	if got := clampDuration(48*time.Hour, time.Minute, 24*time.Hour); got != 24*time.Hour {
		t.Errorf("clamp high: %s", got)
	}
}

func TestJWTCustomHeader(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.Header = "X-Api-Key" })
	waitKeys(t, m)
	// Static token in the custom header.
	r := post(listTools, "")
	r.Header.Set("X-Api-Key", bobToken)
	if res := serve(t, m, &spy{}, r); res.status != 200 {
		t.Fatalf("static: %d", res.status)
	}
	// Access token in Authorization; both headers stripped.
	next := &spy{}
	r = post(listTools, sign(t, rsaKey1S, goodClaims()))
	if res := serve(t, m, next, r); res.status != 200 {
		t.Fatalf("jwt: %d %s", res.status, res.body)
	}
	if next.header.Get("Authorization") != "" || next.header.Get("X-Api-Key") != "" {
		t.Error("credentials reached the backend")
	}
	// An unknown static token gets the OAuth 401.
	r = post(listTools, "")
	r.Header.Set("X-Api-Key", "nope")
	if res := serve(t, m, &spy{}, r); res.status != 401 || res.header.Get("WWW-Authenticate") != challenge401 {
		t.Fatalf("unknown static: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestOAuthProvisionErrors(t *testing.T) {
	keys(t)
	tests := []struct {
		name   string
		mutate func(*MCPAuth)
		want   string
	}{
		{"several audiences, no resource", func(m *MCPAuth) { m.JWT.Audiences = []string{testResource, "https://b.example.com/mcp"} },
			"resource is required when jwt names several audiences"},
		{"resource not an audience", func(m *MCPAuth) { m.ResourceMetadata = &ResourceMetadata{Resource: "https://mcp.example.com/mcp/"} },
			`resource "https://mcp.example.com/mcp/" is not among the jwt audiences`},
		{"invalid_token 403", func(m *MCPAuth) { m.InvalidTokenStatus = 403 }, "invalid_token 403 cannot be used with jwt"},
		{"HS256", func(m *MCPAuth) { m.JWT.Algorithms = []string{"HS256"} }, `algorithm "HS256" is not allowed`},
		{"none", func(m *MCPAuth) { m.JWT.Algorithms = []string{"none"} }, `algorithm "none" is not allowed`},
		{"no issuer", func(m *MCPAuth) { m.JWT.Issuer = "" }, "jwt: issuer is required"},
		{"no audience", func(m *MCPAuth) { m.JWT.Audiences = nil }, "jwt: audience is required"},
		{"two key sources", func(m *MCPAuth) { m.JWT.JWKSFile = "/x" }, "exactly one of jwks_url, jwks_file and public_key"},
		{"no key source", func(m *MCPAuth) { m.JWT.JWKSURL = "" }, "exactly one of jwks_url, jwks_file and public_key"},
		{"unknown scope role", func(m *MCPAuth) { m.JWT.ScopeRoles = []ScopeRole{{Scope: "s", Roles: []string{"ghost"}}} },
			`jwt: scope_roles[0] (s): unknown role "ghost"`},
		{"leeway", func(m *MCPAuth) { m.JWT.Leeway = caddy.Duration(time.Hour) }, "leeway 1h0m0s is outside"},
		{"resource with query", func(m *MCPAuth) {
			m.JWT.Audiences = []string{"https://mcp.example.com/mcp?x=1"}
		}, "must not have a query"},
		{"resource_metadata without jwt needs resource", func(m *MCPAuth) { m.JWT = nil; m.ResourceMetadata = &ResourceMetadata{} }, "resource is required"},
		{"resource_metadata without jwt needs an AS", func(m *MCPAuth) {
			m.JWT = nil
			m.ResourceMetadata = &ResourceMetadata{Resource: testResource}
		}, "at least one authorization server is required"},
		{"bad challenge scope", func(m *MCPAuth) { m.ChallengeScope = []string{`a"b`} }, "challenge_scope[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := provisionErr(t, func(m *MCPAuth) {
				m.JWT = jwtConfig("https://auth.example.com/jwks")
				tt.mutate(m)
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// BenchmarkVerify measures one access token check, as a request pays it:
// uncached (signature and claims) and cached (a digest and a map lookup).
//
//	go test -run '^$' -bench BenchmarkVerify -benchmem .
func BenchmarkVerify(b *testing.B) {
	keys(b)
	for _, k := range []testKey{rsaKey1S, ecKeyS} {
		srv := newJWKSServer(b, k)
		m := newOAuthHandler(b, srv.URL, nil)
		waitKeys(b, m)
		o := jwtOf(m)
		tok := sign(b, k, goodClaims())
		ctx := context.Background()
		b.Run(string(k.alg)+"/uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o.cache = newPrincipalCache(1)
				if _, rej := o.verify(ctx, tok, attempt{}); rej != nil {
					b.Fatal(rej.reason)
				}
			}
		})
		b.Run(string(k.alg)+"/cached", func(b *testing.B) {
			o.cache = newPrincipalCache(defaultCacheSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, rej := o.verify(ctx, tok, attempt{}); rej != nil {
					b.Fatal(rej.reason)
				}
			}
		})
	}
}

func TestJWKSCleanupDoesNotWaitForSlowServer(t *testing.T) {
	keys(t)
	release := make(chan struct{})
	hit := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	m := newOAuthHandler(t, srv.URL, nil)
	select {
	case <-hit:
	case <-time.After(5 * time.Second):
		t.Fatal("no fetch started")
	}
	start := time.Now()
	_ = m.Cleanup()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Cleanup took %s while the key server hung", d)
	}
}

// signRaw signs payload as it is (a JWT whose claims may be malformed),
// with the header typ (none when typ is "").
func signRaw(t testing.TB, k testKey, typ string, payload []byte) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithHeader("kid", k.kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claimsJSON(t testing.TB, c map[string]any) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJWTTyp: RFC 9068's at+jwt (any case, with or without application/)
// passes; JWT, a missing typ and anything else only when accept_typ says
// so. A refused typ is a genuine token: it does not count.
func TestJWTTyp(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	strict := newOAuthHandler(t, srv.URL, func(m *MCPAuth) {
		m.Throttle = &ThrottleConfig{Failures: 2, Window: caddy.Duration(time.Minute)}
	})
	lenient := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.AcceptTyp = []string{"JWT"} })
	waitKeys(t, strict)
	waitKeys(t, lenient)
	payload := claimsJSON(t, goodClaims())
	for _, tc := range []struct {
		typ             string
		strict, lenient int
	}{
		{"at+jwt", 200, 200},
		{"AT+JWT", 200, 200},
		{"application/at+jwt", 200, 200},
		{"Application/AT+JWT", 200, 200},
		{"JWT", 401, 200},
		{"jwt", 401, 200},
		{"application/jwt", 401, 200},
		{"", 401, 200}, // no typ: a plain JWT
		{"at+jwt ", 401, 401},
		{"application/at+jwt+x", 401, 401},
		{"secevent+jwt", 401, 401},
		{"dpop+jwt", 401, 401},
	} {
		tok := signRaw(t, rsaKey1S, tc.typ, payload)
		for _, h := range []struct {
			name string
			m    *MCPAuth
			want int
		}{{"strict", strict, tc.strict}, {"accept_typ JWT", lenient, tc.lenient}} {
			next := &spy{}
			res := serve(t, h.m, next, post(listTools, tok))
			if res.status != h.want || (next.calls == 1) != (h.want == 200) {
				t.Errorf("typ %q, %s: %d (forwarded %d), want %d: %s", tc.typ, h.name, res.status, next.calls, h.want, res.body)
			}
			if h.want == 401 && (!strings.Contains(res.body, "typ") || res.header.Get("WWW-Authenticate") != challenge401) {
				t.Errorf("typ %q, %s: %s %q", tc.typ, h.name, res.body, res.header.Get("WWW-Authenticate"))
			}
		}
	}
	// A typ that is not a string.
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: rsaKey1S.alg, Key: rsaKey1S.key},
		(&jose.SignerOptions{}).WithHeader("kid", rsaKey1S.kid).WithHeader("typ", 7))
	jws, _ := s.Sign(payload)
	tok, _ := jws.CompactSerialize()
	if res := serve(t, lenient, &spy{}, post(listTools, tok)); res.status != 401 || !strings.Contains(res.body, "typ (not a media type)") {
		t.Errorf("typ 7: %d %s", res.status, res.body)
	}
	// Eight refused typs did not count towards throttle 2/1m.
	if res := serve(t, strict, &spy{}, post(listTools, sign(t, rsaKey1S, goodClaims()))); res.status != 200 {
		t.Errorf("after refused typs: %d %s", res.status, res.body)
	}
}

// TestJWTScopes: scope strings split on ASCII spaces only; array elements
// are scopes taken whole; roles_claim alike.
func TestJWTScopes(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) { m.JWT.RolesClaim = "roles" })
	waitKeys(t, m)
	for _, tc := range []struct {
		name         string
		field        string
		claim        any
		scopes, role string
	}{
		{"string", "scope", "mcp:read mcp:admin", "mcp:read mcp:admin", "reader,admin"},
		{"extra spaces", "scope", " mcp:read  mcp:admin ", "mcp:read mcp:admin", "reader,admin"},
		{"NBSP", "scope", "mcp:read\u00a0mcp:admin", "", ""},
		{"U+2028", "scope", "mcp:read\u2028mcp:admin", "", ""},
		{"tab", "scope", "mcp:read\tmcp:admin", "", ""},
		{"newline", "scope", "mcp:read\nmcp:admin", "", ""},
		{"NBSP after a good scope", "scope", "mcp:read mcp:read\u00a0mcp:admin", "mcp:read", "reader"},
		{"array", "scp", []any{"mcp:read", "mcp:admin"}, "mcp:read mcp:admin", "reader,admin"},
		{"array element with a space", "scp", []any{"mcp:read mcp:admin"}, "", ""},
		{"array element with a space, and a good one", "scp", []any{"mcp:read", "mcp:read mcp:admin"}, "mcp:read", "reader"},
		{"roles array element with a space", "roles", []any{"reader admin"}, "", ""},
		{"roles string with NBSP", "roles", "reader\u00a0admin", "", ""},
		{"roles string", "roles", "reader admin", "", "reader,admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := goodClaims()
			delete(c, "scope")
			c[tc.field] = tc.claim
			res := serve(t, m, &spy{}, post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, sign(t, rsaKey1S, c)))
			if res.status != 200 {
				t.Fatalf("%d %s", res.status, res.body)
			}
			if got, _ := res.repl.GetString("http.auth.user.scopes"); got != tc.scopes {
				t.Errorf("scopes %q, want %q", got, tc.scopes)
			}
			if got, _ := res.repl.GetString("http.auth.user.roles"); got != tc.role {
				t.Errorf("roles %q, want %q", got, tc.role)
			}
		})
	}
	// The effect: an array element "mcp:read mcp:admin" grants no admin
	// action (run needs admin); with the scopes apart, it does.
	c := goodClaims()
	delete(c, "scope")
	c["scp"] = []any{"mcp:read mcp:admin"}
	next := &spy{}
	if res := serve(t, m, next, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run"}}`, sign(t, rsaKey1S, c))); next.calls != 0 {
		t.Errorf("an array element with two scopes granted admin: %d %s", res.status, res.body)
	}
	c["scp"] = []any{"mcp:read", "mcp:admin"}
	if res := serve(t, m, next, post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run"}}`, sign(t, rsaKey1S, c))); next.calls != 1 {
		t.Errorf("admin scope refused: %d %s", res.status, res.body)
	}
}

// TestJWTMalformedClaims: a token whose signature verifies but whose
// claims are malformed (a duplicate key, an exp that is not a
// NumericDate) is refused as malformed_claims and not counted; the same
// token with a forged signature is a wrong credential.
func TestJWTMalformedClaims(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) {
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	waitKeys(t, m)
	good := string(claimsJSON(t, goodClaims()))
	body := strings.TrimSuffix(good, "}")
	exp := time.Now().Add(5 * time.Minute).Unix()
	dup := func(k string) string { return `the key \"` + k + `\" appears twice` }
	cases := []struct {
		name, payload, desc string
	}{
		// go-jose alone would read the last exp.
		{"a second exp, a string", body + `,"exp":"soon"}`, dup("exp")},
		{"exp 1e20", strings.Replace(good, fmt.Sprintf(`"exp":%d`, exp), `"exp":1e20`, 1), "NumericDate"},
		{"exp a string", strings.Replace(good, fmt.Sprintf(`"exp":%d`, exp), `"exp":"soon"`, 1), "NumericDate"},
		{"nbf an object", body + `,"nbf":{}}`, "NumericDate"},
		{"iat a bool", strings.Replace(good, `"iat":`, `"iat":true,"was_iat":`, 1), "NumericDate"},
		{"duplicate sub", body + `,"sub":"mallory"}`, dup("sub")},
		{"duplicate sub, escaped", body + `,"\u0073ub":"mallory"}`, dup("sub")},
		{"duplicate nested", body + `,"realm_access":{"roles":["a"],"roles":["admin"]}}`, dup("roles")},
		{"duplicate aud", body + `,"aud":"https://other.example.com/mcp"}`, dup("aud")},
		{"aud a number", strings.Replace(good, `"aud":"`+testResource+`"`, `"aud":7`, 1), "wrong type"},
		{"sub a number", strings.Replace(good, `"sub":"alice"`, `"sub":7`, 1), "wrong type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := signRaw(t, rsaKey1S, "at+jwt", []byte(tc.payload))
			next := &spy{}
			res := serve(t, m, next, post(listTools, tok))
			if res.status != 401 || next.calls != 0 || res.header.Get("WWW-Authenticate") != challenge401 {
				t.Fatalf("%d forwarded %d %q: %s", res.status, next.calls, res.header.Get("WWW-Authenticate"), res.body)
			}
			if !strings.Contains(res.body, tc.desc) || !strings.Contains(res.body, `"error":"invalid_token"`) {
				t.Errorf("body %s lacks %q", res.body, tc.desc)
			}
		})
	}
	if got := testutil.ToFloat64(m.metrics.refusals.WithLabelValues(reasonMalformedClaims)); got < float64(len(cases)) {
		t.Errorf("malformed_claims refusals = %v, want at least %d", got, len(cases))
	}
	// None of them counted.
	if res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, goodClaims()))); res.status != 200 {
		t.Fatalf("after %d malformed tokens: %d %s", len(cases), res.status, res.body)
	}
	// Before the signature is verified, everything counts: the same
	// malformed claims signed by another key.
	forged := testKey{"rsa-1", jose.RS256, rsaOther.(*rsa.PrivateKey)}
	for i := 0; i < 3; i++ {
		if res := serve(t, m, &spy{}, post(listTools, signRaw(t, forged, "at+jwt", []byte(cases[i].payload)))); res.status != 401 || !strings.Contains(res.body, "signature is invalid") {
			t.Fatalf("forged %d: %d %s", i, res.status, res.body)
		}
	}
	if res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, goodClaims()))); res.status != 429 {
		t.Errorf("after 3 forged tokens: %d, want 429", res.status)
	}
}

// TestJWTUnverifiedCounts: refusals before the signature is checked (a
// header with a duplicate key, another issuer, claims that are not an
// object) are wrong credentials.
func TestJWTUnverifiedCounts(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) {
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	waitKeys(t, m)
	good := sign(t, rsaKey1S, goodClaims())
	parts := strings.Split(good, ".")
	other := goodClaims()
	other["iss"] = "https://evil.example.com"
	for _, tc := range []struct{ name, tok, desc string }{
		{"duplicate header key", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"rsa-1","typ":"at+jwt","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], "malformed"},
		{"other issuer", sign(t, rsaKey1S, other), "expected issuer"},
		{"claims an array", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + "." + parts[2], "not a JSON object"},
	} {
		if res := serve(t, m, &spy{}, post(listTools, tc.tok)); res.status != 401 || !strings.Contains(res.body, tc.desc) {
			t.Fatalf("%s: %d %s", tc.name, res.status, res.body)
		}
	}
	if res := serve(t, m, &spy{}, post(listTools, good)); res.status != 429 {
		t.Errorf("after 3 unverified refusals: %d, want 429", res.status)
	}
}

func TestUniqueKeys(t *testing.T) {
	for in, want := range map[string]string{
		`{}`: "",
		`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`: "",
		`{"a":[1,[2,{"b":{}}]],"b":null}`:           "",
		`{"a":1,"a":2}`:                             `the key "a" appears twice`,
		`{"a":1,"\u0061":2}`:                        `the key "a" appears twice`,
		`{"x":{"a":1,"a":1}}`:                       `the key "a" appears twice`,
		`{"x":[{"a":1,"a":1}]}`:                     `the key "a" appears twice`,
		`{"a":{"b":1},"a":[]}`:                      `the key "a" appears twice`,
		`[{"a":1}]`:                                 "not a JSON object",
		`"a"`:                                       "not a JSON object",
		``:                                          "not a JSON object",
		`{"a":1} {"a":2}`:                           "data after the JSON object",
		`{"a":1}x`:                                  "data after the JSON object",
		`{"a":1,}`:                                  "not JSON",
		`{"a":1`:                                    "not JSON",
		` {"a" : 1 } `:                              "",
	} {
		err := uniqueKeys([]byte(in))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("uniqueKeys(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestPrincipalNamespaces(t *testing.T) {
	ids := map[string]string{}
	for _, c := range []struct{ kind, id string }{
		{"user alice", userPrincipalID(testIssuer, "alice")},
		{"client alice", clientPrincipalID(testIssuer, "alice")},
		{"user client:alice", userPrincipalID(testIssuer, "client:alice")},
		{"user %client:alice", userPrincipalID(testIssuer, "%client:alice")},
		{"user %%client:alice", userPrincipalID(testIssuer, "%%client:alice")},
		{"user %alice", userPrincipalID(testIssuer, "%alice")},
	} {
		if other, dup := ids[c.id]; dup {
			t.Errorf("%s and %s share the principal %q", c.kind, other, c.id)
		}
		ids[c.id] = c.kind
	}
	if got := userPrincipalID(testIssuer, "alice"); got != "jwt:"+testIssuer+"#alice" {
		t.Errorf("user principal %q", got)
	}
	if got := clientPrincipalID(testIssuer, "alice"); got != "jwt:"+testIssuer+"#client:alice" {
		t.Errorf("client principal %q", got)
	}
}

func TestJWTAcceptTypCaddyfile(t *testing.T) {
	block := func(line string) string {
		return "mcp_auth {\n role r {\n allow *\n }\n jwt {\n issuer https://a.example\n jwks_url https://a.example/jwks\n audience https://m.example/mcp\n " + line + "\n }\n}"
	}
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block("accept_typ JWT application/jwt"))); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(m.JWT.AcceptTyp); string(got) != `["JWT","application/jwt"]` {
		t.Errorf("accept_typ %s", got)
	}
	for line, want := range map[string]string{
		"accept_typ":                      "jwt: accept_typ: want <typ...>",
		`accept_typ "a b"`:                `jwt: accept_typ[0] "a b" is not a media type`,
		"accept_typ JWT\n accept_typ JWT": "jwt: duplicate accept_typ",
	} {
		var m MCPAuth
		if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(block(line))); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", line, err, want)
		}
	}
	if err := provisionErr(t, func(m *MCPAuth) {
		m.JWT = jwtConfig("https://auth.example.com/jwks")
		m.JWT.AcceptTyp = []string{""}
	}); err == nil || !strings.Contains(err.Error(), "accept_typ[0]") {
		t.Errorf("empty accept_typ: %v", err)
	}
}

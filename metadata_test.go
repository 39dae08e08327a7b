package mcpauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

const wantPRM = `{
  "resource": "https://mcp.example.com/mcp",
  "authorization_servers": [
    "https://auth.example.com"
  ],
  "scopes_supported": [
    "mcp:read",
    "mcp:admin",
    "mcp:delete"
  ],
  "bearer_methods_supported": [
    "header"
  ],
  "resource_name": "Example MCP"
}
`

func TestPRMServedByMCPAuth(t *testing.T) {
	m := newOAuthHandler(t, "https://auth.example.com/jwks", func(m *MCPAuth) {
		m.ResourceMetadata = &ResourceMetadata{ResourceName: "Example MCP"}
	})
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		next := &spy{}
		r := httptest.NewRequest(http.MethodGet, "http://internal:8080"+path, nil)
		r.Header.Set("X-Forwarded-Host", "evil.example.com")
		res := serve(t, m, next, r)
		if res.status != 200 || res.body != wantPRM || next.calls != 0 {
			t.Fatalf("%s: %d %q (forwarded %d)", path, res.status, res.body, next.calls)
		}
		if res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", path, res.header)
		}
	}
	// HEAD, OPTIONS (preflight), POST.
	res := serve(t, m, &spy{}, httptest.NewRequest(http.MethodHead, "/.well-known/oauth-protected-resource/mcp", nil))
	if res.status != 200 || res.body != "" || res.header.Get("Content-Length") != strconv.Itoa(len(wantPRM)) {
		t.Errorf("HEAD: %d %q", res.status, res.body)
	}
	r := httptest.NewRequest(http.MethodOptions, "/.well-known/oauth-protected-resource/mcp", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "GET")
	r.Header.Set("Access-Control-Request-Headers", "mcp-protocol-version")
	res = serve(t, m, &spy{}, r)
	if res.status != 204 || res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Access-Control-Allow-Headers") != "mcp-protocol-version" {
		t.Errorf("OPTIONS: %d %v", res.status, res.header)
	}
	res = serve(t, m, &spy{}, httptest.NewRequest(http.MethodPost, "/.well-known/oauth-protected-resource/mcp", nil))
	if res.status != 405 || res.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST: %d %v", res.status, res.header)
	}
	// Another resource's metadata path is not ours: the request is judged
	// as an MCP request (and needs a token).
	res = serve(t, m, &spy{}, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/other", nil))
	if res.status != 401 {
		t.Errorf("other path: %d", res.status)
	}
}

func TestPRMStaticOnlyHasNone(t *testing.T) {
	m := newHandler(t, nil)
	res := serve(t, m, &spy{}, post(listTools, ""))
	if got := res.header.Get("WWW-Authenticate"); got != `Bearer realm="mcp"` {
		t.Errorf("static-only challenge = %q", got)
	}
	if m.prm != nil {
		t.Error("static-only config serves metadata")
	}
}

func TestBuildPRM(t *testing.T) {
	tests := []struct {
		resource, url, path, err string
	}{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource/mcp", ""},
		{"https://mcp.example.com", "https://mcp.example.com/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource", ""},
		{"https://mcp.example.com/", "https://mcp.example.com/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource", ""},
		{"http://127.0.0.1:8080/a/b/", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b/", "/.well-known/oauth-protected-resource/a/b/", ""},
		{"https://mcp.example.com/mcp#x", "", "", "must not have a fragment"},
		{"https://mcp.example.com/mcp?x", "", "", "must not have a query"},
		{"mcp.example.com/mcp", "", "", "not an http(s) URL"},
		{"https://u:p@mcp.example.com/mcp", "", "", "user info"},
	}
	for _, tt := range tests {
		doc, err := buildPRM(ResourceMetadata{Resource: tt.resource, AuthorizationServers: []string{testIssuer}})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.resource, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.resource, err)
		}
		if doc.url != tt.url || doc.path != tt.path {
			t.Errorf("%s: url %s path %s", tt.resource, doc.url, doc.path)
		}
		var got map[string]any
		if err := json.Unmarshal(doc.body, &got); err != nil || got["resource"] != tt.resource {
			t.Errorf("%s: resource in document = %v (%v)", tt.resource, got["resource"], err)
		}
	}
}

func TestMCPProtectedResourceHandler(t *testing.T) {
	p := &MCPProtectedResource{ResourceMetadata: ResourceMetadata{
		Resource: testResource, AuthorizationServers: []string{testIssuer}, ScopesSupported: []string{"mcp:read", "mcp:admin", "mcp:delete"}, ResourceName: "Example MCP",
	}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		status    int
		forwarded bool
	}{
		{"/.well-known/oauth-protected-resource/mcp", 200, false},
		{"/.well-known/oauth-protected-resource", 200, false},
		{"/mcp", 200, true},
		{"/.well-known/openid-configuration", 200, true},
	} {
		next := &spy{}
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		if err := p.ServeHTTP(rec, r, caddyhttp.HandlerFunc(next.ServeHTTP)); err != nil {
			t.Fatal(err)
		}
		if rec.Code != tc.status || (next.calls == 1) != tc.forwarded {
			t.Errorf("%s: %d forwarded %d", tc.path, rec.Code, next.calls)
		}
		if !tc.forwarded && rec.Body.String() != wantPRM {
			t.Errorf("%s: %s", tc.path, rec.Body.String())
		}
	}
	bad := &MCPProtectedResource{ResourceMetadata: ResourceMetadata{Resource: testResource}}
	if err := bad.Provision(ctx); err == nil || !strings.Contains(err.Error(), "authorization server is required") {
		t.Errorf("no AS: %v", err)
	}
}

func TestOAuthCaddyfile(t *testing.T) {
	good := `mcp_auth {
		role reader {
			allow tools/list
		}
		jwt {
			issuer      https://auth.example.com
			jwks_url    https://auth.example.com/.well-known/jwks.json
			audience    https://mcp.example.com/mcp
			algorithms  RS256 ES256
			leeway      10s
			roles_claim realm_access.roles
			scope_role  mcp:read reader
			refetch_interval 1m
			min_refresh 5m
			max_refresh 12h
			cache_size 100
		}
		resource_metadata {
			resource              https://mcp.example.com/mcp
			authorization_servers https://auth.example.com
			scopes_supported      mcp:read
			resource_name         "Example MCP"
		}
		challenge_scope mcp:read
	}`
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(good)); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(struct {
		JWT *JWTConfig
		RM  *ResourceMetadata
		CS  []string
	}{m.JWT, m.ResourceMetadata, m.ChallengeScope})
	want := `{"JWT":{"issuer":"https://auth.example.com","jwks_url":"https://auth.example.com/.well-known/jwks.json","audiences":["https://mcp.example.com/mcp"],"algorithms":["RS256","ES256"],"leeway":10000000000,"roles_claim":"realm_access.roles","scope_roles":[{"scope":"mcp:read","roles":["reader"]}],"refetch_interval":60000000000,"min_refresh":300000000000,"max_refresh":43200000000000,"cache_size":100},` +
		`"RM":{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://auth.example.com"],"scopes_supported":["mcp:read"],"resource_name":"Example MCP"},"CS":["mcp:read"]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	jwt := func(body string) string {
		return "mcp_auth {\n role r {\n allow *\n }\n jwt {\n" + body + "\n }\n}"
	}
	const base = "issuer https://a.example\n audience https://m.example/mcp\n"
	bad := []struct{ name, in, err string }{
		{"jwt arg", "mcp_auth {\n jwt x {\n }\n}", "wrong argument count"},
		{"no issuer", jwt("jwks_url https://a.example/jwks\n audience x"), "jwt: issuer is required"},
		{"no audience", jwt("issuer https://a.example\n jwks_url https://a.example/jwks"), "jwt: audience is required"},
		{"no key source", jwt(base), "exactly one of jwks_url, jwks_file and public_key"},
		{"two key sources", jwt(base + "jwks_url https://a.example/jwks\n jwks_file /k.json"), "exactly one of jwks_url, jwks_file and public_key"},
		{"HS256", jwt(base + "jwks_url https://a.example/jwks\n algorithms RS256 HS256"), `"HS256" is not allowed`},
		{"none", jwt(base + "jwks_url https://a.example/jwks\n algorithms none"), `"none" is not allowed`},
		{"leeway", jwt(base + "jwks_url https://a.example/jwks\n leeway 1h"), "leeway: at most 5m0s"},
		{"leeway garbage", jwt(base + "jwks_url https://a.example/jwks\n leeway soon"), "want a duration"},
		{"duplicate issuer", jwt(base + "issuer https://b.example\n jwks_url https://a.example/jwks"), "jwt: duplicate issuer"},
		{"scope_role args", jwt(base + "jwks_url https://a.example/jwks\n scope_role mcp:read"), "want <scope> <role...>"},
		{"jwks_url not http", jwt(base + "jwks_url ftp://a.example/jwks"), "not an http(s) URL"},
		{"cache_size", jwt(base + "jwks_url https://a.example/jwks\n cache_size 0"), "cache_size: want a positive number"},
		{"unknown", jwt(base + "jwks_url https://a.example/jwks\n frobnicate 1"), "unrecognized jwt subdirective 'frobnicate'"},
		{"nested block", jwt(base + "jwks_url https://a.example/jwks {\n x\n }"), "unexpected block"},
		{"duplicate jwt", "mcp_auth {\n jwt {\n" + base + " jwks_url https://a.example/jwks\n }\n jwt {\n }\n}", "duplicate jwt subdirective"},
		{"invalid_token 403", "mcp_auth {\n invalid_token 403\n jwt {\n" + base + " jwks_url https://a.example/jwks\n }\n}", "invalid_token 403 cannot be used with jwt"},
		{"rm unknown", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n resource_metadata {\n foo bar\n }\n}", "unrecognized resource_metadata subdirective 'foo'"},
		{"rm resource fragment", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n resource_metadata {\n resource https://m.example/mcp#x\n }\n}", "must not have a fragment"},
		{"rm two resources", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n resource_metadata {\n resource https://a https://b\n }\n}", "want exactly one value"},
		{"rm duplicate", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n resource_metadata {\n resource_name a\n resource_name b\n }\n}", "duplicate resource_name"},
		{"challenge_scope empty", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n challenge_scope\n}", "challenge_scope: want <scope...>"},
		{"challenge_scope quote", "mcp_auth {\n token a b r\n role r {\n allow *\n }\n challenge_scope `a\"b`\n}", "is not a valid scope"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var m MCPAuth
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want …%s…", err, tt.err)
			}
		})
	}

	// jwt alone suffices.
	var only MCPAuth
	if err := only.UnmarshalCaddyfile(caddyfile.NewTestDispenser(jwt(base + "jwks_url https://a.example/jwks"))); err != nil {
		t.Errorf("jwt alone: %v", err)
	}

	// The standalone directive.
	for _, tt := range []struct{ in, err string }{
		{"mcp_protected_resource {\n resource https://m.example/mcp\n authorization_servers https://a.example\n}", ""},
		{"mcp_protected_resource {\n authorization_servers https://a.example\n}", "resource is required"},
		{"mcp_protected_resource {\n resource https://m.example/mcp\n}", "authorization_servers is required"},
		{"mcp_protected_resource x {\n}", "wrong argument count"},
	} {
		var p MCPProtectedResource
		err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// TestPRMPlacementAdapt proves where the metadata handler lands in adapted
// configs: mcp_protected_resource before handle blocks (so it answers even
// when mcp_auth sits inside handle /mcp*), and mcp_auth site-wide before
// handle too.
func TestPRMPlacementAdapt(t *testing.T) {
	cfg := `:8080 {
	handle /mcp* {
		mcp_auth {
			jwt {
				issuer https://auth.example.com
				jwks_url https://auth.example.com/jwks
				audience https://mcp.example.com/mcp
			}
		}
		reverse_proxy 127.0.0.1:9000
	}
	mcp_protected_resource {
		resource https://mcp.example.com/mcp
		authorization_servers https://auth.example.com
	}
	respond 404
}`
	adapter := caddyconfig.GetAdapter("caddyfile")
	out, warn, err := adapter.Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatalf("adapt: %v %v", err, warn)
	}
	s := string(out)
	prm := strings.Index(s, `"handler":"mcp_protected_resource"`)
	sub := strings.Index(s, `"handler":"subroute"`)
	auth := strings.Index(s, `"handler":"mcp_auth"`)
	if prm < 0 || sub < 0 || auth < 0 || !(prm < sub && sub < auth) {
		t.Fatalf("order: mcp_protected_resource %d, subroute %d, mcp_auth %d in %s", prm, sub, auth, s)
	}
}

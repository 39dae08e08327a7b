package integration

import (
	"github.com/caddyserver/caddy/v2/caddytest"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// spoofTransport adds forged identity headers to every request. Keys set
// directly in the map keep their case on an HTTP/1.1 wire.
type spoofTransport struct {
	headers map[string][]string
	base    http.RoundTripper
}

func (s spoofTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range s.headers {
		r.Header[k] = append(r.Header[k], v...)
	}
	return s.base.RoundTrip(r)
}

func spoof(headers map[string][]string) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper { return spoofTransport{headers: headers, base: rt} }
}

// caseForgeries are case variants and duplicates of both headers (the Go
// server merges them into one canonical key with several values).
var caseForgeries = map[string][]string{
	"X-MCP-User":  {"token:alice", "alice"},
	"x-mcp-user":  {"token:alice"},
	"X-Mcp-User":  {"admin"},
	"X-MCP-ROLES": {"admin"},
	"x-mcp-roles": {"admin", "reader"},
}

// underscoreForgeries are the '_' spellings that CGI-style servers read
// as the '-' ones. Caddy drops header names with '_' unless the server's
// expected_underscore_headers lists them (and then it drops repeated
// ones): one copy each.
var underscoreForgeries = map[string][]string{
	"X_MCP_User":  {"token:alice"},
	"x_mcp_roles": {"admin"},
}

// identityKeys returns the header keys of h that a backend may read as the
// identity or roles header: any case, '_' for '-'.
func identityKeys(h http.Header) (user, roles []string) {
	for k := range h {
		switch strings.ReplaceAll(strings.ToLower(k), "_", "-") {
		case "x-mcp-user":
			user = append(user, k)
		case "x-mcp-roles":
			roles = append(roles, k)
		}
	}
	slices.Sort(user)
	slices.Sort(roles)
	return user, roles
}

// TestSpoofedIdentityHeadersNeverReachBackend: with identity_header and
// roles_header, every request of a whole session (initialize, the
// initialized notification, calls, the GET stream, the DELETE) carries
// forged copies of both headers; the backend, which records the headers it
// gets, sees exactly one X-MCP-User = token:bob and one X-MCP-Roles =
// reader, and no Authorization. Two server setups: Caddy's default (which
// itself drops every header name with '_') with case variants and
// duplicates, and one whose expected_underscore_headers lets the '_'
// spellings through to the handlers. In each, a control run without the
// options shows that the same forgeries do reach the backend, so the test
// does test something.
func TestSpoofedIdentityHeadersNeverReachBackend(t *testing.T) {
	for _, setup := range []struct {
		name    string
		global  string
		forgery map[string][]string
	}{
		{"case variants and duplicates", "", caseForgeries},
		{"underscore spellings let through by the server", `
	servers {
		expected_underscore_headers X_MCP_User X_MCP_Roles
	}
`, underscoreForgeries},
	} {
		t.Run(setup.name, func(t *testing.T) {
			t.Run("control without identity_header", func(t *testing.T) {
				b := newBackend(t, modeSSE)
				startCaddyGlobal(t, setup.global, plainSite(b.Addr))
				s := mustConnect(t, connectOpts{token: bobToken, wrap: spoof(setup.forgery)})
				s.callText(t, "echo", map[string]any{"text": "x"})
				for _, r := range b.requests() {
					user, roles := identityKeys(r.Header)
					if len(user) == 0 || len(roles) == 0 {
						t.Fatalf("%s %v: the forgery did not reach the backend without identity_header (headers %v): nothing would be tested", r.Method, r.RPC, r.Header)
					}
				}
			})
			t.Run("identity_header and roles_header", func(t *testing.T) {
				b := newBackend(t, modeSSE)
				startCaddyGlobal(t, setup.global, plainSite(b.Addr, "identity_header X-MCP-User", "roles_header X-MCP-Roles"))
				assertTrustedIdentity(t, b, setup.forgery)
			})
		})
	}
}

// assertTrustedIdentity runs a whole session of bob's with the forgery on
// every request, and checks what the backend got.
func assertTrustedIdentity(t *testing.T, b *backend, forgery map[string][]string) {
	t.Helper()
	s := mustConnect(t, connectOpts{token: bobToken, wrap: spoof(forgery)})
	sid := s.ID()
	waitForStream(t, b, sid)
	if got := s.callText(t, "echo", map[string]any{"text": "who am i"}); got != "echo: who am i" {
		t.Errorf("echo = %q", got)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitForDelete(t, b, sid)

	methods := map[string]int{}
	for i, r := range b.requests() {
		methods[r.Method]++
		user, roles := identityKeys(r.Header)
		if !slices.Equal(user, []string{"X-Mcp-User"}) || !slices.Equal(r.Header["X-Mcp-User"], []string{"token:bob"}) {
			t.Errorf("request %d (%s %v): identity headers %q, want exactly X-Mcp-User: token:bob", i, r.Method, r.RPC, values(r.Header, user))
		}
		if !slices.Equal(roles, []string{"X-Mcp-Roles"}) || !slices.Equal(r.Header["X-Mcp-Roles"], []string{"reader"}) {
			t.Errorf("request %d (%s %v): roles headers %q, want exactly X-Mcp-Roles: reader", i, r.Method, r.RPC, values(r.Header, roles))
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		if methods[m] == 0 {
			t.Errorf("no %s reached the backend: the session did not exercise it", m)
		}
	}
	b.assertNoAuthorization(t)
}

// startCaddyGlobal is startCaddy with extra global options.
func startCaddyGlobal(t *testing.T, global, sites string) {
	t.Helper()
	cfg := strings.TrimSuffix(globalOptions(), "}\n") + global + "}\n" + sites
	tester := caddytest.NewTester(strictTB{t})
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.Fatalf("Caddy did not load the config:\n%s", cfg)
	}
}

func values(h http.Header, keys []string) []string {
	var out []string
	for _, k := range keys {
		for _, v := range h[k] {
			out = append(out, k+": "+v)
		}
	}
	return out
}

// TestDotIdentityHeaderRemoved: when the server's expected_dot_headers
// lets X.MCP.User through (Caddy drops dotted names by default), a client's
// forged X.MCP.User must not reach the backend beside the real X-Mcp-User:
// PHP/CGI-style backends fold '.', '_' and '-' alike (Caddy's own note on
// expected_dot_headers). The control run without identity_header shows the
// forgery does reach the backend otherwise.
func TestDotIdentityHeaderRemoved(t *testing.T) {
	for _, guarded := range []bool{true, false} {
		b := newBackend(t, modeSSE)
		var opts []string
		if guarded {
			opts = []string{"identity_header X-MCP-User", "roles_header X-MCP-Roles"}
		}
		startCaddyGlobal(t, "\n\tservers {\n\t\texpected_dot_headers X.MCP.User X.MCP.Roles\n\t}\n", plainSite(b.Addr, opts...))
		s := mustConnect(t, connectOpts{token: bobToken, wrap: spoof(map[string][]string{
			"X.MCP.User":  {"token:alice"},
			"X.MCP.Roles": {"admin"},
		})})
		s.callText(t, "echo", map[string]any{"text": "x"})
		leaked := 0
		for _, r := range b.requests() {
			if guarded && r.Header.Get("X-Mcp-User") != "token:bob" {
				t.Errorf("%s %v: X-Mcp-User = %q, want token:bob", r.Method, r.RPC, r.Header.Values("X-Mcp-User"))
			}
			if r.Header.Get("X.mcp.user") == "token:alice" || r.Header.Get("X.mcp.roles") == "admin" {
				leaked++
			}
		}
		switch {
		case guarded && leaked > 0:
			t.Errorf("%d request(s) reached the backend with a forged X.MCP.User or X.MCP.Roles", leaked)
		case !guarded && leaked == 0:
			t.Error("control: without identity_header the dotted forgery should reach the backend; the test no longer sends it")
		}
	}
}

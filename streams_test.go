package mcpauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestCleanupEndsGETStreams(t *testing.T) {
	m := newHandler(t, nil)
	opened := make(chan struct{})
	ended := make(chan error, 1)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+bobToken)
		caddyhttp.NewTestReplacer(req)
		ended <- m.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			close(opened)
			<-r.Context().Done() // a stream that runs until its request ends
			return nil
		}))
	}()
	<-opened
	select {
	case <-ended:
		t.Fatal("the stream ended on its own")
	default:
	}
	if err := m.Cleanup(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Cleanup did not end the open GET stream")
	}
	// A stream opened after Cleanup (a request still in flight on the old
	// config) ends at once.
	r, st := m.streams.track(httptest.NewRequest(http.MethodGet, "/mcp", nil), &principal{})
	defer m.streams.untrack(st)
	if r.Context().Err() == nil {
		t.Error("a stream opened after Cleanup stays open")
	}
}

func TestStreamEndsAtTokenExpiry(t *testing.T) {
	var s streamSet
	exp := time.Now().Add(50 * time.Millisecond)
	r, st := s.track(httptest.NewRequest(http.MethodGet, "/mcp", nil), &principal{exp: exp})
	if d, ok := r.Context().Deadline(); !ok || !d.Equal(exp) {
		t.Fatalf("deadline %v %v, want %v", d, ok, exp)
	}
	<-r.Context().Done()
	if r.Context().Err() != context.DeadlineExceeded {
		t.Errorf("err = %v", r.Context().Err())
	}
	if len(s.open) != 1 {
		t.Errorf("%d streams tracked", len(s.open))
	}
	s.untrack(st)
	if len(s.open) != 0 {
		t.Errorf("a finished stream stays tracked")
	}
}

// openStream opens a GET stream through m with tok from ip; the backend
// holds it until the request's context ends. ended gets ServeHTTP's
// result.
func openStream(t testing.TB, m *MCPAuth, tok, ip string) (ended chan error) {
	t.Helper()
	opened := make(chan struct{})
	ended = make(chan error, 1)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.RemoteAddr = ip + ":1234"
		caddyhttp.NewTestReplacer(req)
		ended <- m.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			close(opened)
			<-r.Context().Done()
			return nil
		}))
	}()
	select {
	case <-opened:
	case err := <-ended:
		t.Fatalf("the stream did not open: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not open")
	}
	return ended
}

func streamOpen(ended chan error) bool {
	select {
	case err := <-ended:
		ended <- err
		return false
	default:
		return true
	}
}

// TestIntrospectedStreamEndsWhenRevoked: a GET stream opened with an
// introspected token is checked again when its answer's cache entry
// ends, and ends once the authorization server says the token is no
// longer active; the re-checks are not charged to the client.
func TestIntrospectedStreamEndsWhenRevoked(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Introspection.MaxCacheTTL = caddy.Duration(50 * time.Millisecond)
		m.Throttle = &ThrottleConfig{Failures: 1, Window: caddy.Duration(time.Minute)}
	})
	as.set("stream-token", activeAnswer(nil))
	ended := openStream(t, m, "stream-token", "192.0.2.7")
	// Active: the stream outlives several re-checks.
	eventually(t, "3 re-checks", func() bool { return as.calls.Load() >= 4 })
	if !streamOpen(ended) {
		t.Fatal("the stream ended while its token was active")
	}
	// Revoked at the authorization server.
	as.set("stream-token", map[string]any{"active": false})
	select {
	case err := <-ended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream of a revoked token is still open")
	}
	// The inactive answer was not counted (throttle 1/1m) …
	if res := serve(t, m, &spy{}, from(post(listTools, bobToken), "192.0.2.7")); res.status != 200 {
		t.Errorf("after the re-checks: %d %s", res.status, res.body)
	}
	// … and the token's POSTs are refused as well.
	if res := serve(t, m, &spy{}, from(post(listTools, "stream-token"), "192.0.2.8")); res.status != 401 {
		t.Errorf("revoked token: %d", res.status)
	}
	if n := len(m.streams.open); n != 0 {
		t.Errorf("%d streams still tracked", n)
	}
}

// TestIntrospectedStreamFailsClosed: when the authorization server
// cannot answer the re-check, the stream ends.
func TestIntrospectedStreamFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*introServer)
	}{
		{"5xx", func(as *introServer) { as.fail(http.StatusInternalServerError, nil) }},
		{"garbled", func(as *introServer) { as.fail(http.StatusOK, []byte(`{"active":true,"active":true}`)) }},
		{"gone", func(as *introServer) { as.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := newIntroServer(t)
			m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
				m.Introspection.MaxCacheTTL = caddy.Duration(50 * time.Millisecond)
				m.Introspection.Timeout = caddy.Duration(time.Second)
			})
			as.set("stream-token", activeAnswer(nil))
			ended := openStream(t, m, "stream-token", "192.0.2.7")
			tc.down(as)
			select {
			case <-ended:
			case <-time.After(10 * time.Second):
				t.Fatal("the stream is still open while the authorization server cannot answer")
			}
		})
	}
}

// TestIntrospectedStreamEndsWhenRolesChange: a re-check that finds the
// token active with other scopes ends the stream (its replies were
// filtered for the old roles); the client reconnects and is judged anew.
func TestIntrospectedStreamEndsWhenRolesChange(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Introspection.MaxCacheTTL = caddy.Duration(50 * time.Millisecond)
	})
	as.set("stream-token", activeAnswer(nil))
	ended := openStream(t, m, "stream-token", "192.0.2.7")
	eventually(t, "a re-check", func() bool { return as.calls.Load() >= 2 })
	as.set("stream-token", activeAnswer(func(a map[string]any) { a["scope"] = "mcp:read mcp:admin" }))
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open with roles it was not judged for")
	}
}

// TestStreamKinds: a static token's stream has no deadline, a JWT's ends
// at exp, an introspected token's is re-checked (no deadline); cached
// principals never carry a token.
func TestStreamKinds(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, nil)
	as.set("opaque", activeAnswer(nil))
	p, rej := checkOAuth(m, context.Background(), "opaque")
	if rej != nil || p.authority == nil || p.authority.token != "" {
		t.Fatalf("introspected principal: %+v %v", p, rej)
	}
	sp := p.forStream("opaque")
	if sp.authority.token != "opaque" || p.authority.token != "" || sp.id != p.id {
		t.Fatalf("forStream: %+v", sp.authority)
	}
	r, st := m.streams.track(httptest.NewRequest(http.MethodGet, "/mcp", nil), sp)
	if _, ok := r.Context().Deadline(); ok {
		t.Error("an introspected stream has a deadline")
	}
	m.streams.untrack(st)
	st.mu.Lock()
	if !st.ended || (st.timer != nil && st.timer.Stop()) {
		t.Error("untrack left the re-check timer running")
	}
	st.mu.Unlock()
	if static := m.static.lookup(digestOf(bobToken)); static.authority != nil {
		t.Error("a static token has an authority")
	}
}

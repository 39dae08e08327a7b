package mcpauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// heldAS is an introspection endpoint (a real HTTP server) that holds
// every request until released, counting those under way, and then
// answers with answer(token).
type heldAS struct {
	*httptest.Server
	calls   atomic.Int64
	current atomic.Int64
	peak    atomic.Int64
	mu      sync.Mutex
	release chan struct{} // closed to let held requests answer; nil: no hold
	answer  func(tok string) (status int, header http.Header, body string)
}

func newHeldAS(t testing.TB) *heldAS {
	s := &heldAS{answer: func(string) (int, http.Header, string) {
		return 200, nil, `{"active":false}`
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		n := s.current.Add(1)
		defer s.current.Add(-1)
		for {
			p := s.peak.Load()
			if n <= p || s.peak.CompareAndSwap(p, n) {
				break
			}
		}
		_ = r.ParseForm()
		s.mu.Lock()
		hold, answer := s.release, s.answer
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		status, h, body := answer(r.PostForm.Get("token"))
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(func() {
		s.open()
		s.Close()
	})
	return s
}

// hold makes requests wait until open.
func (s *heldAS) hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release = make(chan struct{})
}

// open releases the held requests and holds no more.
func (s *heldAS) open() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release != nil {
		close(s.release)
		s.release = nil
	}
}

func (s *heldAS) set(answer func(tok string) (int, http.Header, string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// activeFor answers every token active for alice.
func activeFor(string) (int, http.Header, string) {
	b, _ := json.Marshal(activeAnswer(nil))
	return 200, nil, string(b)
}

// eventually waits (bounded) for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func from(r *http.Request, ip string) *http.Request {
	r.RemoteAddr = ip + ":1234"
	return r
}

// serveAsync serves a request in a goroutine; the channel gets the status.
func serveAsync(t testing.TB, m *MCPAuth, r *http.Request) chan result {
	ch := make(chan result, 1)
	go func() {
		ch <- serve(t, m, &spy{}, r)
	}()
	return ch
}

// TestIntrospectionConcurrencyBounds: against a slow authorization
// server, at most max_concurrent introspection requests are under way,
// at most max_concurrent_per_client for one client; the others get 503
// with Retry-After at once, without a request, and without counting.
func TestIntrospectionConcurrencyBounds(t *testing.T) {
	as := newHeldAS(t)
	as.set(activeFor)
	as.hold()
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Introspection.MaxConcurrent = 3
		m.Introspection.MaxConcurrentPerClient = 2
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	if tr := introOf(m).client.Transport.(*http.Transport); tr.MaxConnsPerHost != 3 || tr.MaxIdleConnsPerHost != 3 || tr.MaxResponseHeaderBytes != maxIntrospectionHeader {
		t.Errorf("transport limits: %d conns, %d idle, %d header bytes", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, tr.MaxResponseHeaderBytes)
	}
	// Client a: one IPv6 /64, two addresses.
	a1 := serveAsync(t, m, from(post(listTools, "a-1"), "[2001:db8:0:1::1]"))
	a2 := serveAsync(t, m, from(post(listTools, "a-2"), "[2001:db8:0:1::2]"))
	eventually(t, "2 requests at the AS", func() bool { return as.current.Load() == 2 })

	refused := func(name string, r *http.Request) {
		t.Helper()
		res := serve(t, m, &spy{}, r)
		if res.status != 503 || res.header.Get("Retry-After") != "1" || res.header.Get("WWW-Authenticate") != "" ||
			!strings.Contains(res.body, "at once") {
			t.Errorf("%s: %d Retry-After %q %s", name, res.status, res.header.Get("Retry-After"), res.body)
		}
	}
	// The same client: its bound is reached (and the 503s count for
	// nothing: 5 of them, with a budget of 3).
	for i := 0; i < 5; i++ {
		refused("third of one client", from(post(listTools, fmt.Sprint("a-3-", i)), fmt.Sprintf("[2001:db8:0:1::%x]", 3+i)))
	}
	// Another client gets the instance's last slot …
	b1 := serveAsync(t, m, from(post(listTools, "b-1"), "192.0.2.2"))
	eventually(t, "3 requests at the AS", func() bool { return as.current.Load() == 3 })
	// … and then nobody else.
	refused("fourth of the instance", from(post(listTools, "c-1"), "192.0.2.3"))
	if n := as.calls.Load(); n != 3 {
		t.Errorf("%d requests reached the AS, want 3", n)
	}
	// A request with a token already under way waits for its answer: no
	// slot needed.
	a1again := serveAsync(t, m, from(post(listTools, "a-1"), "192.0.2.9"))

	as.open()
	for name, ch := range map[string]chan result{"a-1": a1, "a-2": a2, "b-1": b1, "a-1 again": a1again} {
		if res := <-ch; res.status != 200 {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	if n, peak := as.calls.Load(), as.peak.Load(); n != 3 || peak != 3 {
		t.Errorf("%d requests, %d at once; want 3 and 3", n, peak)
	}
	// The bounds are free again, and the 503s counted for nobody.
	if res := serve(t, m, &spy{}, from(post(listTools, "a-5"), "[2001:db8:0:1::1]")); res.status != 200 {
		t.Errorf("after the answers: %d %s", res.status, res.body)
	}
	if res := serve(t, m, &spy{}, from(post(listTools, "c-2"), "192.0.2.3")); res.status != 200 {
		t.Errorf("the refused client afterwards: %d %s", res.status, res.body)
	}
}

// TestIntrospectionChargedWhenSent: a credential sent to the
// authorization server counts against its client when it is sent, so
// that a flood of concurrent guesses gets no more than the budget to the
// endpoint, however slow it answers; refunded when the token is active.
func TestIntrospectionChargedWhenSent(t *testing.T) {
	as := newHeldAS(t) // active:false for every token
	as.hold()
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		m.Introspection.MaxConcurrent = 50
		m.Introspection.MaxConcurrentPerClient = 50
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	results := make(chan result, 20)
	for i := 0; i < 20; i++ {
		go func() { results <- serve(t, m, &spy{}, from(post(listTools, fmt.Sprint("guess-", i)), "192.0.2.1")) }()
	}
	// 17 are answered while 3 wait at the AS.
	deadline := time.After(10 * time.Second)
	for i := 0; i < 17; i++ {
		select {
		case res := <-results:
			if res.status != 429 || res.header.Get("Retry-After") == "" {
				t.Errorf("a guess answered before the AS did: %d %s", res.status, res.body)
			}
		case <-deadline:
			t.Fatalf("only %d guesses answered before the AS did, want 17; %d reached it", i, as.calls.Load())
		}
	}
	eventually(t, "3 guesses at the AS", func() bool { return as.current.Load() == 3 })
	if n := as.calls.Load(); n != 3 {
		t.Fatalf("%d guesses reached the AS, want 3", n)
	}
	as.open()
	for i := 0; i < 3; i++ {
		if res := <-results; res.status != 401 {
			t.Errorf("a held guess: %d %s", res.status, res.body)
		}
	}
	// They were counted once each: the client is blocked, without a
	// further request.
	if res := serve(t, m, &spy{}, from(post(listTools, "guess-x"), "192.0.2.1")); res.status != 429 {
		t.Errorf("after 3 inactive tokens: %d", res.status)
	}
	if n := as.calls.Load(); n != 3 {
		t.Errorf("%d requests reached the AS, want 3", n)
	}
	// Active tokens are refunded: 10 new good tokens from another client
	// with a budget of 3.
	as.set(func(tok string) (int, http.Header, string) {
		if strings.HasPrefix(tok, "good-") {
			return activeFor(tok)
		}
		return 200, nil, `{"active":false}`
	})
	for i := 0; i < 10; i++ {
		if res := serve(t, m, &spy{}, from(post(listTools, fmt.Sprint("good-", i)), "192.0.2.2")); res.status != 200 {
			t.Fatalf("good token %d: %d %s", i, res.status, res.body)
		}
	}
	for i := 0; i < 2; i++ {
		if res := serve(t, m, &spy{}, from(post(listTools, fmt.Sprint("bad-", i)), "192.0.2.2")); res.status != 401 {
			t.Fatalf("bad token %d: %d", i, res.status)
		}
	}
	if res := serve(t, m, &spy{}, from(post(listTools, "good-10"), "192.0.2.2")); res.status != 200 {
		t.Errorf("after 10 good and 2 bad tokens: %d, want 200 (the good ones refunded)", res.status)
	}
	serve(t, m, &spy{}, from(post(listTools, "bad-2"), "192.0.2.2"))
	if res := serve(t, m, &spy{}, from(post(listTools, "good-11"), "192.0.2.2")); res.status != 429 {
		t.Errorf("after 3 bad tokens: %d, want 429", res.status)
	}
}

// TestIntrospectionBackoff: while the authorization server answers 429
// or 5xx it is left alone (its Retry-After, else 1s doubling), one probe
// goes when the time is up, and the 503s count for nobody.
func TestIntrospectionBackoff(t *testing.T) {
	as := newHeldAS(t)
	m := newIntroHandler(t, as.URL, func(m *MCPAuth) {
		// 2, so that the probe under way (charged until its answer) does
		// not block the client by itself.
		m.Throttle = &ThrottleConfig{Failures: 2, Window: caddy.Duration(time.Minute)}
	})
	in := introOf(m)
	now := time.Now()
	var clock sync.Mutex
	in.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	n := 0
	ask := func(want int, retryAfter string) {
		t.Helper()
		n++
		res := serve(t, m, &spy{}, post(listTools, fmt.Sprint("tok-", n)))
		if res.status != want || res.header.Get("Retry-After") != retryAfter {
			t.Errorf("request %d: %d Retry-After %q, want %d %q: %s", n, res.status, res.header.Get("Retry-After"), want, retryAfter, res.body)
		}
	}
	calls := func(want int64) {
		t.Helper()
		if got := as.calls.Load(); got != want {
			t.Errorf("%d requests reached the AS, want %d", got, want)
		}
	}

	// 429 with Retry-After: 7.
	as.set(func(string) (int, http.Header, string) {
		return http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, `{"error":"slow_down"}`
	})
	ask(503, "7")
	for i := 0; i < 20; i++ {
		ask(503, "7")
	}
	calls(1)
	advance(6 * time.Second)
	ask(503, "1")
	calls(1)
	// Its time is up: one probe; the server still answers 429, now as an
	// HTTP-date.
	advance(time.Second)
	as.set(func(string) (int, http.Header, string) {
		return http.StatusTooManyRequests, http.Header{"Retry-After": {now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}}, ``
	})
	ask(503, "3")
	calls(2)
	ask(503, "3")
	calls(2)

	// 5xx without Retry-After: 1s, 2s, 4s, …
	advance(3 * time.Second)
	as.set(func(string) (int, http.Header, string) { return http.StatusBadGateway, nil, `` })
	ask(503, "4") // the third failure in a row
	calls(3)
	advance(10 * time.Second)
	ask(503, "8")
	calls(4)
	advance(time.Minute)
	ask(503, "16")
	advance(time.Minute)
	ask(503, "30")
	advance(time.Minute)
	ask(503, "30")
	calls(7)

	// While the probe is under way, nobody else is sent.
	advance(time.Minute)
	as.set(activeFor)
	as.hold()
	probe := serveAsync(t, m, post(listTools, "probe"))
	eventually(t, "the probe at the AS", func() bool { return as.current.Load() == 1 })
	ask(503, "1")
	calls(8)
	as.open()
	if res := <-probe; res.status != 200 {
		t.Fatalf("probe: %d %s", res.status, res.body)
	}
	// Recovered: requests go again, and none of the 503s counted.
	ask(200, "")
	ask(200, "")
	calls(10)

	// An endpoint that cannot be reached backs off too.
	as.Close()
	ask(503, "1")
	ask(503, "1")
	in.mu.Lock()
	failures := in.back.failures
	in.mu.Unlock()
	if failures != 1 {
		t.Errorf("backoff failures %d after an unreachable endpoint, want 1", failures)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for in, want := range map[string]time.Duration{
		"":         0,
		"0":        0,
		"-5":       0,
		"7":        7 * time.Second,
		" 12 ":     12 * time.Second,
		"99999999": maxBackoffWait,
		"soon":     0,
		now.Add(90 * time.Second).UTC().Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).UTC().Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestIntrospectionDuplicateKeys: an answer that names a key twice is
// not read either way.
func TestIntrospectionDuplicateKeys(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, nil)
	logs := observe(m)
	exp := strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
	good := `"iss":"` + testIssuer + `","sub":"alice","aud":"` + testResource + `","scope":"mcp:read","exp":` + exp
	for _, tc := range []struct{ name, body string }{
		{"active twice", `{"active":false,"active":true,` + good + `}`},
		{"aud twice", `{"active":true,` + good + `,"aud":"https://other.example.com/mcp"}`},
		{"sub twice, escaped", `{"active":true,` + good + `,"\u0073ub":"mallory"}`},
		{"nested", `{"active":true,` + good + `,"realm_access":{"roles":["a"],"roles":["b"]}}`},
		{"exp 1e20", `{"active":true,"iss":"` + testIssuer + `","sub":"alice","aud":"` + testResource + `","exp":1e20}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as.fail(http.StatusOK, []byte(tc.body))
			introOf(m).lastWarn.Store(0)
			next := &spy{}
			res := serve(t, m, next, post(listTools, "opaque-"+strings.ReplaceAll(tc.name, " ", "-")))
			if res.status != 503 || next.calls != 0 {
				t.Errorf("%d forwarded %d: %s", res.status, next.calls, res.body)
			}
		})
	}
	if logs.FilterMessageSnippet("introspection answer is malformed").FilterFieldKey("problem").Len() < 4 {
		t.Error("no WARN about the malformed answers")
	}
	// The same answer without the duplicate is accepted.
	as.fail(http.StatusOK, []byte(`{"active":true,`+good+`}`))
	if res := serve(t, m, &spy{}, post(listTools, "opaque-good")); res.status != 200 {
		t.Errorf("good answer: %d %s", res.status, res.body)
	}
}

// TestIntrospectionClientNamespace: an introspected client-credentials
// token of the client "alice" (no sub) is not the user alice, and cannot
// use the user's session.
func TestIntrospectionClientNamespace(t *testing.T) {
	as := newIntroServer(t)
	m := newIntroHandler(t, as.URL, nil)
	as.set("user-alice", activeAnswer(nil))
	as.set("client-alice", activeAnswer(func(a map[string]any) { delete(a, "sub"); a["client_id"] = "alice" }))
	sid := wrapSessionID(m.sessions.key, "jwt:"+testIssuer+"#alice", "backend-session-1")
	withSession := func(tok string) *http.Request {
		r := post(listTools, tok)
		r.Header.Set("Mcp-Session-Id", sid)
		return r
	}
	next := &spy{}
	if res := serve(t, m, next, withSession("user-alice")); res.status != 200 || next.header.Get("Mcp-Session-Id") != "backend-session-1" {
		t.Fatalf("the user's own session: %d %q %s", res.status, next.header.Get("Mcp-Session-Id"), res.body)
	}
	next = &spy{}
	res := serve(t, m, next, withSession("client-alice"))
	if res.status != 404 || next.calls != 0 || !strings.Contains(res.body, "session_not_found") {
		t.Errorf("the client alice used the user alice's session: %d forwarded %d %s", res.status, next.calls, res.body)
	}
	if got, _ := res.repl.GetString("http.mcp_auth.principal"); got != "jwt:"+testIssuer+"#client:alice" {
		t.Errorf("client principal %q", got)
	}
	// A user whose sub looks like a client's principal is not that client.
	as.set("user-client-alice", activeAnswer(func(a map[string]any) { a["sub"] = "client:alice" }))
	res = serve(t, m, &spy{}, post(listTools, "user-client-alice"))
	if got, _ := res.repl.GetString("http.mcp_auth.principal"); got != "jwt:"+testIssuer+"#%client:alice" {
		t.Errorf("user client:alice principal %q", got)
	}
}

func TestIntrospectionBoundsCaddyfile(t *testing.T) {
	in := `mcp_auth {
		role r {
			allow *
		}
		introspection {
			url https://a.example/introspect
			client_id gw
			client_secret {env.X}
			max_concurrent 32
			max_concurrent_per_client 4
		}
	}`
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	if m.Introspection.MaxConcurrent != 32 || m.Introspection.MaxConcurrentPerClient != 4 {
		t.Errorf("got %+v", m.Introspection)
	}
	for _, bad := range []struct{ line, err string }{
		{"max_concurrent 0", "max_concurrent: want a positive number"},
		{"max_concurrent_per_client -1", "max_concurrent_per_client: want a positive number"},
		{"max_concurrent 1 2", "max_concurrent: want exactly one value, got 2"},
	} {
		var m MCPAuth
		err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(strings.Replace(in, "max_concurrent 32", bad.line, 1)))
		if err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: err = %v, want %q", bad.line, err, bad.err)
		}
	}
	if err := (&IntrospectionConfig{URL: "https://a.example/i", ClientID: "x", ClientSecret: "y", MaxConcurrent: -1}).validate(); err == nil {
		t.Error("negative max_concurrent accepted")
	}
}

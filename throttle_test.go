package mcpauth

import (
	"fmt"
	"net/http"
	"strings"

	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestClientGroup(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":              "192.0.2.7/32",
		"::ffff:192.0.2.7":       "192.0.2.7/32",
		"2001:db8:1:2:3:4:5:6":   "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]": "2001:db8:1:2::/64",
		"fe80::1%eth0":           "fe80::/64",
		"not-an-ip":              "invalid Prefix",
	} {
		if got := clientGroup(in).String(); got != want {
			t.Errorf("clientGroup(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestThrottleWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, 16)
	th.now = func() time.Time { return now }
	a, b := clientGroup("192.0.2.1"), clientGroup("192.0.2.2")
	for i := 0; i < 2; i++ {
		th.fail(a)
	}
	if _, blocked := th.blocked(a); blocked {
		t.Fatal("blocked after 2 of 3 failures")
	}
	th.fail(a)
	left, blocked := th.blocked(a)
	if !blocked || left != time.Minute {
		t.Fatalf("after 3 failures: blocked %v for %v", blocked, left)
	}
	if _, blocked := th.blocked(b); blocked {
		t.Fatal("another client is throttled too")
	}
	now = now.Add(59 * time.Second)
	if left, blocked := th.blocked(a); !blocked || left != time.Second {
		t.Fatalf("59 s later: blocked %v for %v", blocked, left)
	}
	now = now.Add(time.Second)
	if _, blocked := th.blocked(a); blocked {
		t.Fatal("still blocked after the window")
	}
	th.fail(a) // a new window
	if _, blocked := th.blocked(a); blocked {
		t.Fatal("blocked after 1 failure of a new window")
	}
}

// TestThrottleMemoryBounded floods the throttle with 1,000,000 distinct
// client addresses: it remembers at most its capacity, and the heap stays
// bounded.
func TestThrottleMemoryBounded(t *testing.T) {
	th := newThrottle(defaultThrottleFailures, defaultThrottleWindow, throttleEntries)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 1_000_000; i++ {
		th.fail(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := th.len(); n != throttleEntries {
		t.Errorf("%d entries, want %d", n, throttleEntries)
	}
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %d bytes for %d entries", grown, throttleEntries)
	if grown > 32<<20 {
		t.Errorf("heap grew %s for a bounded throttle", fmt.Sprint(grown))
	}
}

func TestHandlerThrottle(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)} })
	from := func(r *http.Request, ip string) *http.Request { r.RemoteAddr = ip + ":1234"; return r }
	for i := 0; i < 3; i++ {
		if res := serve(t, m, &spy{}, from(post(callEcho, "guess-"+fmt.Sprint(i)), "192.0.2.9")); res.status != 403 {
			t.Fatalf("guess %d: %d", i, res.status)
		}
	}
	// A missing credential never counts and is never throttled.
	for i := 0; i < 5; i++ {
		if res := serve(t, m, &spy{}, from(post(callEcho, ""), "192.0.2.9")); res.status != 401 {
			t.Fatalf("no credential: %d", res.status)
		}
	}
	next := &spy{}
	res := serve(t, m, next, from(post(callEcho, bobToken), "192.0.2.9"))
	if res.status != 429 || next.calls != 0 || res.header.Get("Retry-After") != "60" || !strings.Contains(res.body, `"error":"too_many_requests"`) {
		t.Fatalf("throttled client with a valid token: %d %q %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	if res := serve(t, m, &spy{}, from(post(callEcho, bobToken), "192.0.2.10")); res.status != 200 {
		t.Errorf("another client is refused: %d", res.status)
	}
	// IPv6 neighbours in one /64 share a budget; another /64 does not.
	for i := 0; i < 3; i++ {
		serve(t, m, &spy{}, from(post(callEcho, "guess"), fmt.Sprintf("[2001:db8:0:1::%d]", i+1)))
	}
	if res := serve(t, m, &spy{}, from(post(callEcho, bobToken), "[2001:db8:0:1::ff]")); res.status != 429 {
		t.Errorf("same /64: %d", res.status)
	}
	if res := serve(t, m, &spy{}, from(post(callEcho, bobToken), "[2001:db8:0:2::1]")); res.status != 200 {
		t.Errorf("other /64: %d", res.status)
	}
	off := newHandler(t, func(m *MCPAuth) { m.Throttle = &ThrottleConfig{Off: true} })
	for i := 0; i < 50; i++ {
		serve(t, off, &spy{}, post(callEcho, "guess"))
	}
	if res := serve(t, off, &spy{}, post(callEcho, bobToken)); res.status != 200 {
		t.Errorf("throttle off: %d", res.status)
	}
}

// TestJWTThrottle: forged signatures count towards throttling; expired but
// genuine tokens (clients renew after a 401) do not.
func TestJWTThrottle(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaKey1S)
	m := newOAuthHandler(t, srv.URL, func(m *MCPAuth) {
		m.Throttle = &ThrottleConfig{Failures: 3, Window: caddy.Duration(time.Minute)}
	})
	waitKeys(t, m)
	expired := goodClaims()
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	for i := 0; i < 10; i++ {
		if res := serve(t, m, &spy{}, post(listTools, sign(t, rsaKey1S, expired))); res.status != 401 {
			t.Fatalf("expired token %d: %d", i, res.status)
		}
	}
	good := sign(t, rsaKey1S, goodClaims())
	if res := serve(t, m, &spy{}, post(listTools, good)); res.status == 429 {
		t.Fatal("expired tokens were counted as wrong credentials")
	}
	forged := sign(t, testKey{"rsa-1", rsaKey1S.alg, rsaOther}, goodClaims())
	for i := 0; i < 3; i++ {
		if res := serve(t, m, &spy{}, post(listTools, forged)); res.status != 401 {
			t.Fatalf("forged token %d: %d", i, res.status)
		}
	}
	if res := serve(t, m, &spy{}, post(listTools, good)); res.status != 429 {
		t.Errorf("after 3 forged tokens: %d, want 429", res.status)
	}
}

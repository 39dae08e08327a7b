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
	th := newThrottle(3, time.Minute, 16, 4)
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
	th := newThrottle(defaultThrottleFailures, defaultThrottleWindow, throttleEntries, coarseEntries)
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

// v6 is the address of the n-th /64 of the /48 2001:db8:<a>::/48.
func v6(a, n int) netip.Prefix {
	return clientGroup(fmt.Sprintf("2001:db8:%x:%x::1", a, n))
}

// TestThrottleBlockedStaysBlocked: other clients' failures evict those
// that are not blocked, never a blocked one.
func TestThrottleBlockedStaysBlocked(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, 8, 4)
	th.now = func() time.Time { return now }
	a, b := clientGroup("192.0.2.1"), clientGroup("192.0.2.2")
	for i := 0; i < 3; i++ {
		th.fail(a)
	}
	th.fail(b)
	th.fail(b)
	for i := 0; i < 1000; i++ {
		th.fail(clientGroup(fmt.Sprintf("198.51.%d.%d", i/250, i%250)))
	}
	if _, blocked := th.blocked(a); !blocked {
		t.Fatal("a blocked client was forgotten")
	}
	// b (2 of 3, not blocked) was evicted: counted from zero again.
	th.fail(b)
	if _, blocked := th.blocked(b); blocked {
		t.Error("an evicted counting entry was kept")
	}
	if n := th.len(); n > 8+4 {
		t.Errorf("%d entries, limit 12", n)
	}
	// The window ends as it would have.
	now = now.Add(time.Minute)
	if _, blocked := th.blocked(a); blocked {
		t.Error("blocked past its window")
	}
}

// TestThrottleCoarsens: when the table is full of blocked clients,
// failures count under the IPv6 /48 (IPv4 /24); when that table is full
// of blocked entries too, unknown clients get 429 until the first window
// ends.
func TestThrottleCoarsens(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(2, time.Minute, 4, 2)
	th.now = func() time.Time { return now }
	block := func(g netip.Prefix) {
		th.fail(g)
		th.fail(g)
	}
	isBlocked := func(g netip.Prefix) bool { _, b := th.blocked(g); return b }
	// Four /64s of the /48 2001:db8:1:: fill the table, blocked.
	for i := 0; i < 4; i++ {
		block(v6(1, i))
	}
	// A fifth /64 of it fails: counted under the /48.
	th.fail(v6(1, 4))
	if isBlocked(v6(1, 5)) {
		t.Fatal("the /48 is blocked after one failure")
	}
	now = now.Add(time.Second)
	th.fail(v6(1, 6))
	for _, g := range []netip.Prefix{v6(1, 4), v6(1, 6), v6(1, 0xffff), v6(1, 0)} {
		if !isBlocked(g) {
			t.Errorf("%s is not blocked with its /48", g)
		}
	}
	if isBlocked(v6(2, 0)) || isBlocked(clientGroup("192.0.2.1")) {
		t.Fatal("another /48 or an IPv4 client is blocked")
	}
	// Another /48 fails once (counting), then an IPv4 /24 twice: it
	// takes the counting entry's place.
	th.fail(v6(2, 0))
	now = now.Add(time.Second)
	block(clientGroup("192.0.2.1"))
	if !isBlocked(clientGroup("192.0.2.77")) {
		t.Error("the /24 is not blocked")
	}
	th.mu.Lock()
	_, kept := th.coarse.entries[coarseGroup(v6(2, 0))]
	th.mu.Unlock()
	if kept {
		t.Error("the counting /48 was not evicted")
	}
	// Both tables are full of blocked entries: a client neither knows is
	// refused (2001:db8:2::/48 among them: its count was evicted), until
	// the first window ends.
	left, blocked := th.blocked(v6(3, 0))
	if !blocked {
		t.Fatal("a new client is let through while no failure of it could be counted")
	}
	if want := time.Minute - 2*time.Second; left != want {
		t.Errorf("saturated: blocked for %s, want %s (until the oldest entry's window ends)", left, want)
	}
	if n := th.len(); n != 4+2 {
		t.Errorf("%d entries, want 6", n)
	}
	// The first windows end: room again.
	now = now.Add(time.Minute - 2*time.Second)
	if isBlocked(v6(3, 0)) {
		t.Error("still saturated after the windows ended")
	}
	th.fail(v6(3, 0))
	if isBlocked(v6(3, 0)) {
		t.Error("blocked after one failure of a fresh window")
	}
}

// TestThrottleFlood floods a full-size throttle: one client is blocked,
// then 65,536 /64s of one /48 fail until blocked, then 1,000,000 IPv4
// addresses fail once, then 16,384 other /48s block themselves. The
// first client stays blocked throughout, the tables stay at their sizes,
// and the heap stays bounded.
func TestThrottleFlood(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(2, time.Minute, throttleEntries, coarseEntries)
	th.now = func() time.Time { return now }
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	first := clientGroup("203.0.113.9")
	th.fail(first)
	th.fail(first)
	check := func(stage string) {
		t.Helper()
		if _, blocked := th.blocked(first); !blocked {
			t.Fatalf("%s: the first client was forgotten", stage)
		}
		if n := th.len(); n > throttleEntries+coarseEntries {
			t.Fatalf("%s: %d entries", stage, n)
		}
	}
	for i := 0; i < 1<<16; i++ {
		g := v6(1, i)
		th.fail(g)
		th.fail(g)
	}
	check("65,536 /64s of one /48")
	if _, blocked := th.blocked(v6(1, 0x1234)); !blocked {
		t.Error("a /64 of the flooding /48 is let through")
	}
	if _, blocked := th.blocked(v6(2, 0)); blocked {
		t.Error("another /48 is blocked")
	}
	for i := 0; i < 1_000_000; i++ {
		th.fail(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
	}
	check("1,000,000 IPv4 addresses")
	for i := 0; i < coarseEntries; i++ {
		g := v6(0x100+i, 0)
		th.fail(g)
		th.fail(g)
	}
	check("16,384 other /48s")
	if _, blocked := th.blocked(clientGroup("192.0.2.200")); !blocked {
		t.Error("saturated, a client whose failures cannot be counted is let through")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %d bytes for %d entries", grown, th.len())
	if grown > 48<<20 {
		t.Errorf("heap grew %d bytes for a bounded throttle", grown)
	}
	now = now.Add(time.Minute)
	if _, blocked := th.blocked(first); blocked {
		t.Error("blocked past its window")
	}
}

// TestThrottleChargeRefund: a charge counts at once and blocks at the
// limit; a refund gives it back, within its window only.
func TestThrottleChargeRefund(t *testing.T) {
	now := time.Unix(1000, 0)
	th := newThrottle(3, time.Minute, 8, 4)
	th.now = func() time.Time { return now }
	g := clientGroup("192.0.2.1")
	var receipts []*throttleReceipt
	for i := 0; i < 3; i++ {
		r, _, ok := th.charge(g)
		if !ok || r == nil {
			t.Fatalf("charge %d refused", i)
		}
		receipts = append(receipts, r)
	}
	if _, left, ok := th.charge(g); ok || left != time.Minute {
		t.Fatalf("a fourth charge: ok %v, left %s", ok, left)
	}
	th.refund(receipts[0])
	if _, blocked := th.blocked(g); blocked {
		t.Fatal("blocked after a refund")
	}
	th.refund(receipts[1])
	th.fail(g)
	th.fail(g)
	if _, blocked := th.blocked(g); !blocked {
		t.Fatal("not blocked after 1 kept charge and 2 failures")
	}
	// A new window: the old charge's refund changes nothing.
	now = now.Add(time.Minute)
	th.fail(g)
	th.fail(g)
	th.refund(receipts[2])
	th.fail(g)
	if _, blocked := th.blocked(g); !blocked {
		t.Error("a refund from the last window unblocked this one")
	}
}

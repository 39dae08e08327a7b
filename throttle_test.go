package mcpauth

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
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

package mcpauth

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Failed-credential throttling: after `failures` wrong credentials from one
// client IP (IPv6 grouped by /64) within `window`, further requests with a
// credential from it are answered 429 with Retry-After, and no token is
// checked, until the window that began with the first failure ends. Only
// wrong credentials count: unknown static tokens and tokens whose
// signature does not verify; never a missing credential (every OAuth
// client's first step), an expired but genuine token, or a 503 while keys
// load. Memory is bounded by a fixed-size LRU of client groups.

// ThrottleConfig sets failed-credential throttling.
type ThrottleConfig struct {
	// Wrong credentials allowed from one client within Window; the next
	// request with a credential gets 429. Default: 30.
	Failures int `json:"failures,omitempty"`
	// The window, counted from the first failure. Default: 1m.
	Window caddy.Duration `json:"window,omitempty"`
	// Turn throttling off. Default: false.
	Off bool `json:"off,omitempty"`
}

const (
	defaultThrottleFailures = 30
	defaultThrottleWindow   = time.Minute
	throttleEntries         = 1 << 16
)

type throttleEntry struct {
	start    time.Time
	failures int
}

type throttle struct {
	failures int
	window   time.Duration
	now      func() time.Time

	mu  sync.Mutex
	lru *simplelru.LRU[netip.Prefix, *throttleEntry]
	// lastFail is when the last failure was recorded (Unix nanoseconds):
	// when it is a window old, nothing can be blocked, and blocked answers
	// without a lock.
	lastFail atomic.Int64
}

// build returns the throttle of the settings: nil when off.
func (t *ThrottleConfig) build() *throttle {
	if t != nil && t.Off {
		return nil
	}
	failures, window := defaultThrottleFailures, defaultThrottleWindow
	if t != nil && t.Failures > 0 {
		failures = t.Failures
	}
	if t != nil && t.Window > 0 {
		window = time.Duration(t.Window)
	}
	return newThrottle(failures, window, throttleEntries)
}

func newThrottle(failures int, window time.Duration, entries int) *throttle {
	l, _ := simplelru.NewLRU[netip.Prefix, *throttleEntry](entries, nil)
	return &throttle{failures: failures, window: window, now: time.Now, lru: l}
}

// clientGroup is the key of a client address: the IPv4 address, or the
// /64 of an IPv6 address. An unparsable address is one group of its own.
func clientGroup(host string) netip.Prefix {
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return netip.PrefixFrom(addr, 32)
	}
	p, _ := addr.Prefix(64)
	return p
}

// blocked reports whether the group is throttled, and for how long.
func (t *throttle) blocked(group netip.Prefix) (time.Duration, bool) {
	if !t.any() {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.lru.Peek(group)
	if !ok {
		return 0, false
	}
	left := e.start.Add(t.window).Sub(t.now())
	if left <= 0 {
		t.lru.Remove(group)
		return 0, false
	}
	return left, e.failures >= t.failures
}

// any reports whether some client may be blocked now: false when no
// failure was recorded within the window (the common case), without a
// lock or parsing the client's address.
func (t *throttle) any() bool {
	last := t.lastFail.Load()
	return last != 0 && t.now().Sub(time.Unix(0, last)) < t.window
}

// fail records a wrong credential from the group.
func (t *throttle) fail(group netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.lastFail.Store(now.UnixNano())
	e, ok := t.lru.Get(group)
	if !ok || now.Sub(e.start) >= t.window {
		t.lru.Add(group, &throttleEntry{start: now, failures: 1})
		return
	}
	e.failures++
}

// len is the number of groups remembered.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

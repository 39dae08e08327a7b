package mcpauth

import (
	"container/heap"
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Failed-credential throttling: after `failures` wrong credentials from one
// client IP (IPv6 grouped by /64) within `window`, further requests with a
// credential from it are answered 429 with Retry-After, and no token is
// checked, until the window that began with the first failure ends. Only
// wrong credentials count: unknown static tokens and tokens whose
// signature does not verify; never a missing credential (every OAuth
// client's first step), an expired but genuine token, or a 503 while keys
// load.
//
// Memory is bounded, and a blocked client stays blocked for its window
// whatever other clients do. The failures are kept in a table of client
// groups (65,536); when it is full, a new group takes the place of the
// least recently failed group that is not blocked, never of a blocked
// one. When every entry is blocked (an attack from more groups than the
// table holds), failures of groups without an entry are counted under a
// coarser group, the IPv6 /48 or the IPv4 /24, in a second table
// (16,384), with the same limit; when that table too is full of blocked
// entries, requests with a credential from a group that neither table
// knows get 429 until the first entry's window ends.

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
	// coarseEntries is the size of the table of coarse groups (IPv6 /48,
	// IPv4 /24), used while the table of groups is full of blocked ones.
	coarseEntries = 1 << 14
)

// throttleEntry counts the failures of one group in one window.
type throttleEntry struct {
	key      netip.Prefix
	start    time.Time
	failures int
	// counting: the entry's place in the table's LRU of entries that are
	// not blocked; nil while blocked. index: its place in the heap of
	// blocked entries; -1 while not blocked.
	counting *list.Element
	index    int
}

// throttleTable holds at most size entries: those not blocked in an LRU,
// evicted first; the blocked ones in a heap by window start, evicted only
// when their window has ended.
type throttleTable struct {
	size     int
	entries  map[netip.Prefix]*throttleEntry
	counting *list.List // of *throttleEntry, most recently failed first
	blocked  blockedHeap
}

func newThrottleTable(size int) *throttleTable {
	return &throttleTable{size: size, entries: map[netip.Prefix]*throttleEntry{}, counting: list.New()}
}

// get returns the group's entry of the current window, nil when none.
func (tt *throttleTable) get(key netip.Prefix, now time.Time, window time.Duration) *throttleEntry {
	e := tt.entries[key]
	if e != nil && now.Sub(e.start) >= window {
		tt.remove(e)
		return nil
	}
	return e
}

// add creates an entry for the group, making room if it can; nil when
// the table is full of blocked entries whose windows have not ended.
func (tt *throttleTable) add(key netip.Prefix, now time.Time, window time.Duration) *throttleEntry {
	if len(tt.entries) >= tt.size && !tt.evict(now, window) {
		return nil
	}
	e := &throttleEntry{key: key, start: now, index: -1}
	e.counting = tt.counting.PushFront(e)
	tt.entries[key] = e
	return e
}

// evict removes one entry: a blocked one whose window has ended, else the
// least recently failed one that is not blocked.
func (tt *throttleTable) evict(now time.Time, window time.Duration) bool {
	if len(tt.blocked) > 0 && now.Sub(tt.blocked[0].start) >= window {
		tt.remove(tt.blocked[0])
		return true
	}
	if back := tt.counting.Back(); back != nil {
		tt.remove(back.Value.(*throttleEntry))
		return true
	}
	return false
}

// full reports whether no entry could be added now.
func (tt *throttleTable) full(now time.Time, window time.Duration) bool {
	return len(tt.entries) >= tt.size && tt.counting.Len() == 0 &&
		(len(tt.blocked) == 0 || now.Sub(tt.blocked[0].start) < window)
}

func (tt *throttleTable) remove(e *throttleEntry) {
	if e.counting != nil {
		tt.counting.Remove(e.counting)
		e.counting = nil
	}
	if e.index >= 0 {
		heap.Remove(&tt.blocked, e.index)
	}
	delete(tt.entries, e.key)
}

// set changes an entry's failures, moving it between the LRU and the
// heap as it becomes blocked or not.
func (tt *throttleTable) set(e *throttleEntry, failures, limit int) {
	e.failures = failures
	switch {
	case failures >= limit && e.index < 0:
		tt.counting.Remove(e.counting)
		e.counting = nil
		heap.Push(&tt.blocked, e)
	case failures < limit && e.index >= 0:
		heap.Remove(&tt.blocked, e.index)
		e.counting = tt.counting.PushFront(e)
	case e.counting != nil:
		tt.counting.MoveToFront(e.counting)
	}
}

// blockedHeap orders blocked entries by window start: the first to end
// on top.
type blockedHeap []*throttleEntry

func (h blockedHeap) Len() int           { return len(h) }
func (h blockedHeap) Less(i, j int) bool { return h[i].start.Before(h[j].start) }
func (h blockedHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *blockedHeap) Push(x any) {
	e := x.(*throttleEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *blockedHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	e.index = -1
	*h = old[:len(old)-1]
	return e
}

type throttle struct {
	failures int
	window   time.Duration
	now      func() time.Time

	mu     sync.Mutex
	fine   *throttleTable // client groups: IPv4 addresses, IPv6 /64s
	coarse *throttleTable // IPv4 /24s, IPv6 /48s: while fine is full of blocked entries
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
	return newThrottle(failures, window, throttleEntries, coarseEntries)
}

func newThrottle(failures int, window time.Duration, entries, coarse int) *throttle {
	return &throttle{failures: failures, window: window, now: time.Now,
		fine: newThrottleTable(entries), coarse: newThrottleTable(coarse)}
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

// coarseGroup is the coarser group of a client group: its IPv4 /24 or
// IPv6 /48.
func coarseGroup(g netip.Prefix) netip.Prefix {
	if !g.IsValid() {
		return g
	}
	bits := 48
	if g.Addr().Is4() {
		bits = 24
	}
	p, _ := g.Addr().Prefix(bits)
	return p
}

// blocked reports whether the group is throttled, and for how long.
func (t *throttle) blocked(group netip.Prefix) (time.Duration, bool) {
	if !t.any() {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	left, blocked, _, _ := t.lookLocked(group, t.now())
	return left, blocked
}

// lookLocked finds the group's entries and whether it is blocked: by its
// own entry, by its coarse group's, or because neither table knows it and
// neither has room.
func (t *throttle) lookLocked(group netip.Prefix, now time.Time) (left time.Duration, blocked bool, fine, coarse *throttleEntry) {
	fine = t.fine.get(group, now, t.window)
	if fine != nil && fine.failures >= t.failures {
		return fine.start.Add(t.window).Sub(now), true, fine, nil
	}
	coarse = t.coarse.get(coarseGroup(group), now, t.window)
	if coarse != nil && coarse.failures >= t.failures {
		return coarse.start.Add(t.window).Sub(now), true, fine, coarse
	}
	if fine == nil && coarse == nil && t.fine.full(now, t.window) && t.coarse.full(now, t.window) {
		// Saturated: a failure of this group could not be counted.
		first := t.fine.blocked[0].start
		if s := t.coarse.blocked[0].start; s.Before(first) {
			first = s
		}
		return first.Add(t.window).Sub(now), true, nil, nil
	}
	return 0, false, fine, coarse
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
	t.failLocked(group, t.now())
}

// failLocked counts one failure: in the group's entry (made if there is
// room), else in its coarse group's. It returns the entry charged, nil
// when both tables are full of blocked entries.
func (t *throttle) failLocked(group netip.Prefix, now time.Time) *throttleEntry {
	t.lastFail.Store(now.UnixNano())
	tt, e := t.fine, t.fine.get(group, now, t.window)
	if e == nil {
		e = t.fine.add(group, now, t.window)
	}
	if e == nil {
		key := coarseGroup(group)
		tt, e = t.coarse, t.coarse.get(key, now, t.window)
		if e == nil {
			e = t.coarse.add(key, now, t.window)
		}
	}
	if e == nil {
		return nil
	}
	tt.set(e, e.failures+1, t.failures)
	return e
}

// throttleReceipt is one failure charged before the credential's fate
// was known (refund gives it back).
type throttleReceipt struct {
	e     *throttleEntry
	start time.Time
}

// charge takes one failure from the group's budget for a credential that
// is about to be checked by a remote server, so that requests under way
// count before their answers arrive: false, with the time left, when the
// group is blocked.
func (t *throttle) charge(group netip.Prefix) (*throttleReceipt, time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if left, blocked, _, _ := t.lookLocked(group, now); blocked {
		return nil, left, false
	}
	e := t.failLocked(group, now)
	if e == nil {
		return nil, 0, true
	}
	return &throttleReceipt{e: e, start: e.start}, 0, true
}

// refund gives back a charged failure: the credential was not a wrong
// one. A failure of a window that has ended, or of an entry since
// evicted, is gone already.
func (t *throttle) refund(r *throttleReceipt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := r.e
	tt := t.fine
	if t.coarse.entries[e.key] == e {
		tt = t.coarse
	} else if t.fine.entries[e.key] != e {
		return
	}
	if !e.start.Equal(r.start) || e.failures == 0 {
		return
	}
	tt.set(e, e.failures-1, t.failures)
}

// len is the number of groups remembered, coarse ones included.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.fine.entries) + len(t.coarse.entries)
}

package mcpauth

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// One memory budget for everything the module buffers — request bodies,
// JSON replies read whole, SSE events — shared by every request of the
// Caddy instance (every handler with the same settings), with a share per
// principal so that one caller cannot starve the others. A buffer takes
// its bytes from the budget as it grows, from what arrives, never from a
// declared Content-Length, and gives them back as soon as it is written
// or dropped. A request that cannot get memory is answered 503 with
// Retry-After before anything is written; a stream already under way
// ends, as it does for an event that is too large: never anything
// unfiltered.

// MemoryBudget sets the memory budget.
type MemoryBudget struct {
	// The most bytes buffered at once by all requests together.
	// Default: 256 MiB.
	Total int64 `json:"total,omitempty"`
	// The most bytes buffered at once for one principal. Default: a
	// quarter of the total.
	PerCaller int64 `json:"per_caller,omitempty"`
}

const (
	defaultBudget = 256 << 20
	// retryAfterBudget is the Retry-After of a 503 for want of memory.
	retryAfterBudget = 1
)

// budget is the shared account of buffered bytes.
type budget struct {
	total, share int64
	used         atomic.Int64

	mu sync.Mutex
	by map[string]int64
}

func (b *budget) Destruct() error { return nil }

var budgets = caddy.NewUsagePool()

// budgetKey names the shared budget of a setting.
func budgetKey(total, share int64) string { return fmt.Sprintf("budget %d %d", total, share) }

// acquireBudget returns the shared budget of these settings.
func acquireBudget(total, share int64) (*budget, error) {
	v, _, err := budgets.LoadOrNew(budgetKey(total, share), func() (caddy.Destructor, error) {
		return &budget{total: total, share: share, by: map[string]int64{}}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*budget), nil
}

func (m *MemoryBudget) sizes() (total, share int64) {
	total = defaultBudget
	if m != nil && m.Total > 0 {
		total = m.Total
	}
	share = total / 4
	if m != nil && m.PerCaller > 0 {
		share = m.PerCaller
	}
	return total, share
}

// take charges n bytes to the principal; false when the budget or the
// principal's share would be exceeded (nothing is charged then).
func (b *budget) take(p string, n int64) bool {
	if b == nil || n <= 0 {
		return true // no budget (a bare handler in a test): no limit
	}
	if b.used.Add(n) > b.total {
		b.used.Add(-n)
		return false
	}
	b.mu.Lock()
	if b.by[p]+n > b.share {
		b.mu.Unlock()
		b.used.Add(-n)
		return false
	}
	b.by[p] += n
	b.mu.Unlock()
	return true
}

// give returns n bytes charged to the principal.
func (b *budget) give(p string, n int64) {
	if b == nil || n <= 0 {
		return
	}
	b.mu.Lock()
	if left := b.by[p] - n; left > 0 {
		b.by[p] = left
	} else {
		delete(b.by, p)
	}
	b.mu.Unlock()
	b.used.Add(-n)
}

// account is what one buffer owner (a request, a body) holds of the
// budget.
type account struct {
	b    *budget
	p    string
	held int64
}

// grow returns buf with room for at least n more bytes: a larger buffer
// (of the next size class, at least twice the size, at most limit), taken
// from the buffer pools, whose capacity is charged first; the old one goes
// back to its pool. ok is false when the budget refuses, or when limit
// would be exceeded.
func (a *account) grow(buf []byte, n, limit int) ([]byte, bool) {
	if cap(buf)-len(buf) >= n {
		return buf, true
	}
	need := len(buf) + n
	if need > limit {
		return buf, false
	}
	c := min(sizeClass(max(2*cap(buf), need, 4096)), limit)
	if !a.b.take(a.p, int64(c)) {
		return buf, false
	}
	a.held += int64(c)
	nb := getBuf(c)[:len(buf)]
	copy(nb, buf)
	a.drop(buf)
	return nb, true
}

// Buffer pools by size class, so that replies read whole and events do
// not leave a new large buffer behind each time (garbage the collector
// lets grow to twice the live heap). Pools hold nothing the budget
// counts, and the runtime empties them over two collections when idle.
var bufClasses = func() (c [13]int) {
	for i := range c {
		c[i] = 4 << 10 << i // 4 KiB … 16 MiB (maxFilteredResponse)
	}
	return c
}()

var bufPools [len(bufClasses)]sync.Pool

// sizeClass rounds n up to a class (or leaves a larger n as it is).
func sizeClass(n int) int {
	for _, c := range bufClasses {
		if n <= c {
			return c
		}
	}
	return n
}

func getBuf(c int) []byte {
	for i, bc := range bufClasses {
		if bc == c {
			if p, ok := bufPools[i].Get().(*[]byte); ok {
				return (*p)[:0]
			}
			return make([]byte, 0, c)
		}
	}
	return make([]byte, 0, c)
}

// maxPooled: larger buffers are left to the collector, so that an idle
// instance does not keep megabytes of them reachable (a pool empties only
// over two collections).
const maxPooled = 1 << 20

// putBuf returns a buffer of a class up to maxPooled to its pool; others
// are left to the collector.
func putBuf(b []byte) {
	if cap(b) > maxPooled {
		return
	}
	for i, bc := range bufClasses {
		if bc == cap(b) {
			b = b[:0]
			bufPools[i].Put(&b)
			return
		}
	}
}

// charge takes the capacity of a buffer the account starts to use.
func (a *account) charge(buf []byte) bool {
	if !a.b.take(a.p, int64(cap(buf))) {
		return false
	}
	a.held += int64(cap(buf))
	return true
}

// drop returns the charge of a buffer no longer used, and the buffer to
// its pool: nothing may use it after.
func (a *account) drop(buf []byte) {
	n := min(int64(cap(buf)), a.held)
	a.held -= n
	a.b.give(a.p, n)
	putBuf(buf)
}

// release returns everything the account holds.
func (a *account) release() {
	if a.b != nil && a.held > 0 {
		a.b.give(a.p, a.held)
	}
	a.held = 0
}

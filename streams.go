package mcpauth

import (
	"context"
	"net/http"
	"sync"
)

// Long-lived GET streams are judged once, when they open. So that a
// reload that revokes a token, or a token's expiry, does not leave a
// stream running on an old decision, the handler tracks its open GET
// streams: Cleanup (run when a reload replaces this config) ends all of
// them, and a stream opened with an expiring token ends at its exp.
// Clients reconnect (with Last-Event-ID) and are judged anew.
type streamSet struct {
	mu     sync.Mutex
	next   uint64
	open   map[uint64]context.CancelFunc
	closed bool
}

// track derives the request's context for a GET stream; done must be
// called when the stream ends.
func (s *streamSet) track(r *http.Request, p *principal) (*http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	if !p.exp.IsZero() {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, p.exp)
		inner := cancel
		cancel = func() { cancelDeadline(); inner() }
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return r.WithContext(ctx), func() {}
	}
	if s.open == nil {
		s.open = map[uint64]context.CancelFunc{}
	}
	id := s.next
	s.next++
	s.open[id] = cancel
	s.mu.Unlock()
	return r.WithContext(ctx), func() {
		s.mu.Lock()
		delete(s.open, id)
		s.mu.Unlock()
		cancel()
	}
}

// closeAll ends every tracked stream, and any opened later.
func (s *streamSet) closeAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	n := len(s.open)
	for id, cancel := range s.open {
		cancel()
		delete(s.open, id)
	}
	return n
}

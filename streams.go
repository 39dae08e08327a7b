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
	open   map[*stream]struct{}
	closed bool
}

// stream is one tracked GET stream.
type stream struct {
	cancel context.CancelFunc
}

// track derives the request's context for a GET stream; untrack must be
// called when the stream ends.
func (s *streamSet) track(r *http.Request, p *principal) (*http.Request, *stream) {
	var ctx context.Context
	st := new(stream)
	if p.exp.IsZero() {
		ctx, st.cancel = context.WithCancel(r.Context())
	} else {
		ctx, st.cancel = context.WithDeadline(r.Context(), p.exp)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		st.cancel()
		return r.WithContext(ctx), st
	}
	if s.open == nil {
		s.open = map[*stream]struct{}{}
	}
	s.open[st] = struct{}{}
	s.mu.Unlock()
	return r.WithContext(ctx), st
}

// untrack forgets a stream that ended.
func (s *streamSet) untrack(st *stream) {
	s.mu.Lock()
	delete(s.open, st)
	s.mu.Unlock()
	st.cancel()
}

// closeAll ends every tracked stream, and any opened later.
func (s *streamSet) closeAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	n := len(s.open)
	for st := range s.open {
		st.cancel()
		delete(s.open, st)
	}
	return n
}

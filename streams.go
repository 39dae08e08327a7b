package mcpauth

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Long-lived GET streams are judged once, when they open. So that a
// reload that revokes a token, a token's expiry or its revocation at the
// authorization server does not leave a stream running on an old
// decision, the handler tracks its open GET streams: Cleanup (run when a
// reload replaces this config) ends all of them; a stream opened with a
// static token lives until then; one opened with a JWT ends at its exp;
// one opened with an introspected token is checked again when its
// answer's cache entry ends (the token's exp or max_cache_ttl), and ends
// when the token is no longer active, when its caller or roles changed,
// or when the authorization server cannot tell (fail closed). Clients
// reconnect (with Last-Event-ID) and are judged anew.
type streamSet struct {
	mu     sync.Mutex
	open   map[*stream]struct{}
	closed bool
}

// stream is one tracked GET stream.
type stream struct {
	cancel context.CancelFunc

	// An introspected token's stream: the re-check timer, stopped when
	// the stream ends.
	mu    sync.Mutex
	timer *time.Timer
	ended bool
}

// track derives the request's context for a GET stream; untrack must be
// called when the stream ends.
func (s *streamSet) track(r *http.Request, p *principal) (*http.Request, *stream) {
	var ctx context.Context
	st := new(stream)
	switch {
	case p.authority != nil && p.authority.token != "":
		ctx, st.cancel = context.WithCancel(r.Context())
		st.watch(p)
	case p.exp.IsZero():
		ctx, st.cancel = context.WithCancel(r.Context())
	default:
		ctx, st.cancel = context.WithDeadline(r.Context(), p.exp)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		st.end()
		return r.WithContext(ctx), st
	}
	if s.open == nil {
		s.open = map[*stream]struct{}{}
	}
	s.open[st] = struct{}{}
	s.mu.Unlock()
	return r.WithContext(ctx), st
}

// watch schedules the re-check of an introspected token's stream for
// when the answer that admitted it expires. The re-check is not charged
// to the client's failure budget; it ends the stream unless the
// authorization server says the token is still active for the same
// caller with the same roles.
func (st *stream) watch(p *principal) {
	a := p.authority
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.timer = time.AfterFunc(a.until.Sub(a.in.now()), func() {
		st.mu.Lock()
		ended := st.ended
		st.mu.Unlock()
		if ended {
			return
		}
		np := a.in.recheck(a.token)
		if np == nil || np.id != p.id || np.rolesStr != p.rolesStr || np.authority == nil ||
			!np.authority.until.After(a.in.now()) {
			// Not active, another caller or other roles, the endpoint
			// cannot tell, or the token's time is up.
			st.end()
			return
		}
		next := *p
		na := *np.authority
		na.token = a.token
		next.authority = &na
		st.watch(&next)
	})
}

// end stops the stream's re-checks and ends its context.
func (st *stream) end() {
	st.mu.Lock()
	st.ended = true
	if st.timer != nil {
		st.timer.Stop()
	}
	st.mu.Unlock()
	st.cancel()
}

// untrack forgets a stream that ended.
func (s *streamSet) untrack(st *stream) {
	s.mu.Lock()
	delete(s.open, st)
	s.mu.Unlock()
	st.end()
}

// closeAll ends every tracked stream, and any opened later.
func (s *streamSet) closeAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	n := len(s.open)
	for st := range s.open {
		st.end()
		delete(s.open, st)
	}
	return n
}

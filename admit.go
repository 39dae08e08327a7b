package mcpauth

import (
	"net/http"
	"strings"
)

// admit is the first step of the pipeline: the HTTP method, the framing
// (can any backend read this request differently?), the Origin, the
// credential (verifiers, throttling) and the session id. It returns the
// caller in ex, or a refusal; it writes nothing.
func (m *MCPAuth) admit(r *http.Request, ex *exchange) *refusal {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete, http.MethodOptions:
	default:
		rf := plainRefusal(http.StatusMethodNotAllowed, reasonMethod, "method "+r.Method+" is not allowed on an MCP endpoint")
		rf.allow = "GET, POST, DELETE, OPTIONS"
		return rf
	}
	if rf := m.framing(r); rf != nil {
		return rf
	}
	if !m.originAllowed(r) {
		return plainRefusal(http.StatusForbidden, reasonOrigin, "requests from this Origin are not allowed")
	}
	p, rf := m.authenticate(r)
	if rf != nil {
		return rf
	}
	ex.p = p
	p.setPlaceholders(placeholdersOf(r))
	return m.admitSession(r, ex)
}

// authenticate reads the credential and finds the caller: a static token
// first, then each OAuth verifier in turn.
func (m *MCPAuth) authenticate(r *http.Request) (*principal, *refusal) {
	values := r.Header.Values(m.Header)
	oauthOnly := false
	if len(m.verifiers) > 0 && !m.bearer && len(values) == 0 {
		// A custom header carries static tokens only; an access token
		// always comes in Authorization.
		if tok, st := parseCredential(r.Header.Values(defaultHeader), true); st == credOK {
			return m.verify(r, tok, true)
		}
	}
	tok, st := parseCredential(values, m.bearer)
	switch st {
	case credMissing:
		return nil, &refusal{status: http.StatusUnauthorized, reason: reasonUnauthorized, challenge: true,
			desc: "a bearer token is required"}
	case credMalformed:
		return nil, &refusal{status: http.StatusBadRequest, reason: reasonInvalidRequest, challenge: true, oauthError: "invalid_request",
			desc: "the credential header must appear once and hold one token of printable ASCII"}
	}
	return m.verify(r, tok, oauthOnly)
}

// verify checks a presented token against the verifiers, after the
// throttle: a throttled client gets 429 and no token is checked.
func (m *MCPAuth) verify(r *http.Request, tok string, oauthOnly bool) (*principal, *refusal) {
	if rf := m.throttled(r); rf != nil {
		return nil, rf
	}
	digest := digestOf(tok)
	if !oauthOnly {
		if p := m.static.lookup(digest); p != nil {
			return p, nil
		}
	}
	if oauthOnly || m.bearer {
		at := attempt{group: clientGroup(remoteHost(r)), throttle: m.throttle, digest: digest}
		for _, v := range m.verifiers {
			p, rej := v.verify(r.Context(), tok, at)
			switch {
			case rej == errNotMine:
				continue
			case rej == nil:
				if p.authority != nil && r.Method == http.MethodGet {
					// A GET stream is re-checked with this token.
					p = p.forStream(tok)
				}
				return p, nil
			case rej.status == http.StatusTooManyRequests:
				return nil, throttledRefusal(rej.retryAfter)
			case rej.status == http.StatusServiceUnavailable:
				rf := plainRefusal(http.StatusServiceUnavailable, reasonUnavailable, rej.reason)
				rf.retryAfter = rej.retryAfter
				if rf.retryAfter == 0 {
					rf.retryAfter = retryAfterSeconds
				}
				return nil, rf
			}
			if rej.wrong && !rej.counted {
				m.failedCredential(r)
			}
			reason := rej.refusal
			if reason == "" {
				reason = reasonInvalidToken
			}
			return nil, &refusal{status: http.StatusUnauthorized, reason: reason, challenge: true,
				oauthError: "invalid_token", desc: rej.reason}
		}
	}
	m.failedCredential(r)
	return nil, &refusal{status: m.invalid, reason: reasonInvalidToken, challenge: true, oauthError: "invalid_token",
		desc: "the token is not known"}
}

// throttled answers 429 when the client has sent too many wrong
// credentials lately.
func (m *MCPAuth) throttled(r *http.Request) *refusal {
	if m.throttle == nil || !m.throttle.any() {
		return nil
	}
	left, blocked := m.throttle.blocked(clientGroup(remoteHost(r)))
	if !blocked {
		return nil
	}
	return throttledRefusal(seconds(left))
}

// throttledRefusal is the 429 of a client whose failure budget is spent.
func throttledRefusal(secs int) *refusal {
	rf := plainRefusal(http.StatusTooManyRequests, reasonThrottled,
		"too many wrong credentials from this address; retry after "+itoa(secs)+" s")
	rf.retryAfter = secs
	return rf
}

// failedCredential counts a wrong credential against the client.
func (m *MCPAuth) failedCredential(r *http.Request) {
	if m.throttle != nil {
		m.throttle.fail(clientGroup(remoteHost(r)))
	}
}

// preflight reports whether r is a CORS preflight from an allowed origin:
// OPTIONS with Origin and Access-Control-Request-Method, and no body.
func (m *MCPAuth) preflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != "" && m.originAllowed(r) && m.framing(r) == nil
}

// scrub removes what the client must never pass to the backend on its
// own: the credential and the identity headers (set only by the module).
func (m *MCPAuth) scrub(r *http.Request) {
	r.Header.Del(m.Header)
	r.Header.Del(defaultHeader)
	m.deleteIdentityHeaders(r)
}

func remoteHost(r *http.Request) string {
	if ip, ok := caddyhttpClientIP(r); ok {
		return ip
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

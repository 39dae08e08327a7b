package mcpauth

import (
	"bytes"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// refusal is every answer the module gives instead of the backend: the
// steps of the pipeline return one, and answer writes it. Its reason is
// the metric label and the audit rule, so every refusal is counted and
// audited the same way.
type refusal struct {
	status int
	// reason names the refusal in caddy_mcp_auth_refusals_total and the
	// audit log. A policy denial has none: its decisions are counted and
	// audited where they were taken.
	reason string
	desc   string // error_description, or the JSON-RPC error message
	// errCode is the "error" member of a plain body, when not the OAuth
	// error code or the reason.
	errCode string
	// challenge sets WWW-Authenticate; oauthError is its error code
	// ("" for none: a missing credential).
	challenge  bool
	oauthError string
	scope      string // the scope of an insufficient_scope answer
	retryAfter int    // seconds; 0 for none
	allow      string // the Allow header of a 405
	// JSON-RPC answers: rpc with code and id, or a prebuilt body (the
	// answer to a batch).
	rpc  bool
	code int
	id   []byte
	data []byte // the error's data member, raw JSON
	body []byte
	// err is an internal failure: Caddy's error handling answers it.
	err error
}

// Refusal reasons (metric labels). Every value is fixed here, never taken
// from the request.
const (
	reasonUnauthorized     = "unauthorized"
	reasonInvalidRequest   = "invalid_request"
	reasonInvalidToken     = "invalid_token"
	reasonMalformedClaims  = "malformed_claims"
	reasonThrottled        = "too_many_requests"
	reasonOrigin           = "forbidden_origin"
	reasonSession          = "session_not_found"
	reasonSessionRepeated  = "repeated_session_id"
	reasonMethod           = "method_not_allowed"
	reasonMalformed        = "malformed"
	reasonAmbiguous        = "ambiguous_json"
	reasonURI              = "uri_not_canonical"
	reasonBatch            = "batch_too_large"
	reasonTooLarge         = "too_large"
	reasonUnreadable       = "body_unreadable"
	reasonMediaType        = "unsupported_media_type"
	reasonEncoding         = "unsupported_encoding"
	reasonBodyNotAllowed   = "body_not_allowed"
	reasonUpgrade          = "upgrade"
	reasonHopByHop         = "hop_by_hop_header"
	reasonTrailer          = "trailer"
	reasonHeaderMismatch   = "header_mismatch"
	reasonVersion          = "unsupported_protocol_version"
	reasonUnavailable      = "temporarily_unavailable"
	reasonScope            = "insufficient_scope"
	reasonUnfilterableList = "unfilterable_reply"
	reasonBudget           = "memory_budget"
	reasonRequestState     = "invalid_request_state"
)

// refusalReasons lists every reason, for the metric's documentation and
// its test.
var refusalReasons = []string{
	reasonUnauthorized, reasonInvalidRequest, reasonInvalidToken, reasonMalformedClaims, reasonThrottled, reasonOrigin,
	reasonSession, reasonSessionRepeated, reasonMethod, reasonMalformed, reasonAmbiguous, reasonURI,
	reasonBatch, reasonTooLarge, reasonUnreadable, reasonMediaType, reasonEncoding, reasonBodyNotAllowed,
	reasonUpgrade, reasonHopByHop, reasonTrailer, reasonHeaderMismatch, reasonVersion, reasonUnavailable,
	reasonScope, reasonUnfilterableList, reasonBudget, reasonRequestState,
}

// rpcRefusal is a refusal answered with a JSON-RPC error body. The id is
// copied: it is a slice of the request body, whose pooled buffer goes back
// before the refusal is written.
func rpcRefusal(status int, reason string, code int, id []byte, msg string) *refusal {
	return &refusal{status: status, reason: reason, rpc: true, code: code, id: bytes.Clone(id), desc: msg}
}

// plainRefusal is a refusal answered with {"error","error_description"}.
func plainRefusal(status int, reason, desc string) *refusal {
	return &refusal{status: status, reason: reason, desc: desc}
}

// answer writes a refusal: the only place that does. p is the caller when
// known.
func (m *MCPAuth) answer(w http.ResponseWriter, r *http.Request, p *principal, rf *refusal) error {
	if rf.err != nil {
		return caddyhttp.Error(rf.status, rf.err)
	}
	if rf.reason != "" {
		m.metrics.refusal(rf.reason)
		m.auditRefusal(r, p, rf.reason)
		if rf.reason == reasonUnavailable {
			// The authorization server cannot tell: worth a WARN, at most
			// once every 10 s.
			now := time.Now().Unix()
			if last := m.state.last503Log.Load(); now-last >= 10 && m.state.last503Log.CompareAndSwap(last, now) {
				m.logger.Warn("access token refused with 503", zap.String("reason", rf.desc), zap.String("remote_ip", remoteHost(r)))
			}
		}
		if ce := m.logger.Check(m.refusalLevel(rf), "refused"); ce != nil {
			ce.Write(zap.String("reason", rf.reason), zap.Int("status", rf.status),
				zap.String("description", truncate(rf.desc)), zap.String("remote_ip", remoteHost(r)))
		}
	}
	h := w.Header()
	m.setCORS(h, r)
	if rf.challenge {
		c := `Bearer realm="` + m.Realm + `"`
		if rf.oauthError != "" {
			c += `, error="` + rf.oauthError + `"`
		}
		c += m.challengeParams
		if rf.scope != "" {
			c += `, scope="` + rf.scope + `"`
		} else {
			c += m.challengeScopeParam
		}
		h.Set("WWW-Authenticate", c)
	}
	if rf.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rf.retryAfter))
	}
	if rf.allow != "" {
		h.Set("Allow", rf.allow)
	}
	var body []byte
	switch {
	case rf.body != nil:
		body = append(rf.body, '\n')
	case rf.rpc && rf.data != nil:
		b := rpcErrorBody(rf.id, rf.code, rf.desc)
		b = append(b[:len(b)-2], `,"data":`...)
		b = append(append(b, rf.data...), "}}\n"...)
		body = b
	case rf.rpc:
		body = append(rpcErrorBody(rf.id, rf.code, rf.desc), '\n')
	default:
		body = []byte(`{"error":` + wire.Quote(rf.reasonCode()) + `,"error_description":` + wire.Quote(rf.desc) + "}\n")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(rf.status)
	_, _ = w.Write(body)
	return nil
}

// reasonCode is the "error" member of a plain refusal body: the OAuth
// error code when there is one, else the reason.
func (rf *refusal) reasonCode() string {
	if rf.errCode != "" {
		return rf.errCode
	}
	if rf.oauthError != "" {
		return rf.oauthError
	}
	return rf.reason
}

// refusalLevel: a wrong credential, a throttled client, malformed claims
// (usually an authorization server's bug) and a request the memory budget
// could not hold are worth an INFO line; everything else, a missing
// credential first of all (every OAuth client's first step), is DEBUG.
func (m *MCPAuth) refusalLevel(rf *refusal) zapcore.Level {
	switch rf.reason {
	case reasonInvalidToken, reasonThrottled, reasonMalformedClaims, reasonBudget:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}

// setCORS lets a browser-based client read the answer.
func (m *MCPAuth) setCORS(h http.Header, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && m.originAllowed(r) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id")
		h.Add("Vary", "Origin")
	}
}

// rpcErrorBody renders a JSON-RPC error response, echoing the raw id (or
// null when unknown).
func rpcErrorBody(id []byte, code int, msg string) []byte {
	if id == nil {
		id = []byte("null")
	}
	b := make([]byte, 0, 64+len(id)+len(msg))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = wire.AppendQuote(b, msg)
	b = append(b, "}}"...)
	return b
}

// maxLogged bounds a name, URI or description in a log or audit entry.
const maxLogged = 256

// truncate bounds a client-supplied string for logs: at most maxLogged
// bytes (cut at a UTF-8 boundary), with a marker saying how long it was.
func truncate(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	cut := maxLogged
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

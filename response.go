package mcpauth

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// maxFilteredResponse bounds what is buffered of a reply that must be
// filtered: a JSON list reply, or one SSE event. A larger one is refused,
// never passed on unfiltered.
const maxFilteredResponse = 16 << 20

// keptBuffer: a buffer that grew beyond this is dropped once its event or
// reply is written, so that an idle stream keeps no large buffer.
const keptBuffer = 64 << 10

// identityOnly is the Accept-Encoding sent upstream: replies are read
// (list filtering, bound ids), so the backend, and any encode handler
// inside this one, is asked for an uncompressed reply.
var identityOnly = []string{"identity"}

// forward is the last step: the request, as judged, goes to the backend,
// and its reply comes back through the reply writer.
func (m *MCPAuth) forward(w http.ResponseWriter, r *http.Request, ex *exchange, next caddyhttp.Handler) error {
	p := ex.p
	if r.Method != http.MethodPost {
		m.recordHTTP(r, p)
	} else if pb, ok := r.Body.(*pooledBody); ok {
		// The transport closes the body it sent; a handler inside this one
		// that never reads it does not, so the charge goes back here too
		// (Close is safe twice and concurrently with Read).
		defer pb.Close()
	}
	if !m.PassAuthorization {
		r.Header.Del(m.Header)
		r.Header.Del(defaultHeader)
	}
	m.setIdentityHeaders(r, p)
	if r.Method == http.MethodDelete && m.DisableSessionBinding {
		return next.ServeHTTP(w, r)
	}
	if r.Method == http.MethodGet {
		var st *stream
		r, st = m.streams.track(r, p)
		defer m.streams.untrack(st)
	}
	r.Header["Accept-Encoding"] = identityOnly
	rw := &ex.reply
	rw.reset(m, w, ex)
	err := next.ServeHTTP(rw, r)
	if err != nil && rw.mode == modeJSON {
		// The buffered reply was cut short; nothing of it was written, so
		// Caddy's error handling answers (502 from reverse_proxy).
		return err
	}
	if rw.finish() {
		// Withheld: counted (for want of memory already, when it happened)
		// and audited like a refusal.
		reason := reasonBudget
		if !rw.short {
			reason = reasonUnfilterableList
			m.metrics.refusal(reason)
			m.logger.Warn("withheld a reply that could not be filtered",
				zap.String("user", p.name), zap.String("http_method", r.Method))
		}
		m.auditRefusal(r, p, reason)
	}
	return err
}

// recordHTTP counts, logs and audits an allowed GET, DELETE or OPTIONS.
func (m *MCPAuth) recordHTTP(r *http.Request, p *principal) {
	if ce := m.logger.Check(zapcore.DebugLevel, "allowed"); ce != nil {
		ce.Write(zap.String("user", p.name), zap.String("roles", p.rolesStr), zap.String("http_method", r.Method))
	}
	m.auditHTTP(r, p)
	m.metrics.decision("allow", "lifecycle", r.Method)
}

// responseWriter sits between reverse_proxy and the client. It wraps the
// backend's session id, and rewrites replies for the caller: a JSON reply
// to a list request is buffered, rewritten and written at the end; an SSE
// stream is passed on event by event, each flushed as it arrives, with
// list responses and notifications rewritten. A reply is copied at most
// once: an event that arrives in one write is rewritten in place.
type responseWriter struct {
	caddyhttp.ResponseWriterWrapper
	m       *MCPAuth
	roles   []*compiledRole
	rewrite wire.Rewriter
	// bufferJSON is set when a JSON reply must be read whole to be
	// rewritten (readsReply).
	bufferJSON bool
	// keys and principal bind what the backend hands out: session ids
	// (unless bindSession is off), task ids, request states, cursors.
	keys        *bindingKeys
	principal   string
	bindSession bool
	// hadLength: the backend framed its JSON reply with a Content-Length
	// (the rewritten reply keeps the backend's framing).
	hadLength bool

	mode    int // one of the modes below, decided at WriteHeader
	status  int
	buf     []byte // mode json: the reply; mode sse: the current event
	scratch []byte
	edits   wire.Edits
	// acct charges the buffers to the memory budget; short is set when
	// the budget could not hold the reply (503, or the stream ends).
	acct   account
	failed bool
	short  bool
}

const (
	modeUndecided = iota
	modePass
	modeJSON
	modeSSE
)

// reset prepares the writer for one request.
func (rw *responseWriter) reset(m *MCPAuth, w http.ResponseWriter, ex *exchange) {
	buf, scratch, edits := rw.buf[:0], rw.scratch[:0], rw.edits[:0]
	acct := account{b: m.budget, p: ex.p.id}
	if !acct.charge(buf) {
		buf = nil
	}
	if !acct.charge(scratch) {
		scratch = nil
	}
	*rw = responseWriter{
		ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		m:                     m,
		roles:                 ex.p.roles,
		bufferJSON:            ex.readReply,
		keys:                  ex.keys,
		principal:             ex.p.id,
		bindSession:           !m.DisableSessionBinding,
		buf:                   buf, scratch: scratch, edits: edits,
		acct: acct,
	}
	rw.rewrite = wire.Rewriter{Policy: rw, Binder: rw, Hidden: m.HideDenied != nil}
}

// The caller's policy, for the rewriter.

func (rw *responseWriter) MayUse(use, item string) bool {
	return decide(rw.roles, Action{Method: use, Target: item, HasTarget: true}).Allowed
}

func (rw *responseWriter) MaySubscribe(uri string) bool {
	return decide(rw.roles, Action{Method: "resources/subscribe", Target: uri, HasTarget: true}).Allowed
}

func (rw *responseWriter) MayList(list string) bool {
	return decide(rw.roles, Action{Method: list}).Allowed
}

func (rw *responseWriter) WriteHeader(status int) {
	if rw.mode != modeUndecided {
		return
	}
	if status == http.StatusSwitchingProtocols {
		// Upgrades are refused; a backend that switches anyway gets no
		// tunnel through here: fail closed.
		rw.mode, rw.failed, rw.status = modeJSON, true, status
		return
	}
	if status >= 100 && status < 200 {
		// An informational answer (103 Early Hints) comes before the final
		// one: pass it on and decide at the final status.
		rw.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	h := rw.Header()
	if rw.bindSession {
		if sid := h.Get("Mcp-Session-Id"); sid != "" {
			h.Set("Mcp-Session-Id", wrapSessionID(rw.keys.session, rw.principal, sid))
		}
	}
	rw.status = status
	ct := h.Get("Content-Type")
	mt := ct
	if ct != "application/json" && ct != "text/event-stream" {
		mt, _, _ = mime.ParseMediaType(ct)
	}
	encoded := h.Get("Content-Encoding") != "" && h.Get("Content-Encoding") != "identity"
	if mt != "application/json" && mt != "text/event-stream" && ct != "" {
		// Clients read the media type leniently (the TypeScript SDK looks
		// for the substring, event stream first): a reply that names
		// either anywhere is read as the client would read it.
		switch l := strings.ToLower(ct); {
		case strings.Contains(l, "text/event-stream"):
			mt = "text/event-stream"
		case strings.Contains(l, "json"):
			mt = "application/json"
		}
	}
	switch {
	case status < 200 || status == http.StatusNoContent:
		rw.mode = modePass
	case mt == "text/event-stream":
		rw.mode = modeSSE
	case mt == "application/json" && rw.bufferJSON:
		rw.mode = modeJSON
	default:
		rw.mode = modePass
	}
	if rw.mode != modePass && encoded {
		// A reply we must read but cannot: fail closed.
		rw.mode = modeJSON
		rw.failed = true
		return
	}
	switch rw.mode {
	case modePass:
		rw.ResponseWriterWrapper.WriteHeader(status)
	case modeSSE:
		h.Del("Content-Length")
		rw.ResponseWriterWrapper.WriteHeader(status)
	case modeJSON:
		cl := h.Get("Content-Length")
		rw.hadLength = cl != ""
		h.Del("Content-Length") // written at the end, if the backend sent one
		// The backend's declared length sizes the buffer at once (a
		// doubling buffer would leave as much garbage again behind); it
		// is charged like any growth, and a lie only costs a regrowth.
		if rw.hadLength {
			if n, err := strconv.Atoi(cl); err == nil && n > 0 && n <= maxFilteredResponse {
				rw.hold(n)
			}
		}
	}
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.mode == modeUndecided {
		rw.WriteHeader(http.StatusOK)
	}
	switch rw.mode {
	case modeJSON:
		if rw.failed {
			return len(p), nil
		}
		if !rw.hold(len(p)) {
			return len(p), nil
		}
		rw.buf = append(rw.buf, p...)
		return len(p), nil
	case modeSSE:
		return rw.writeSSE(p)
	}
	return rw.ResponseWriterWrapper.Write(p)
}

// ReadFrom overrides the wrapped ReaderFrom, which would bypass Write.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{rw}, r)
}

type writerOnly struct{ io.Writer }

// Hijack refuses to hand the connection over: a tunnel through here
// would carry messages nobody judges.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("mcp_auth: the connection cannot be taken over")
}

// Flush passes complete SSE events and pass-through data on at once; a
// partly received SSE event waits for its end.
func (rw *responseWriter) Flush() {
	if rw.mode == modeJSON {
		return
	}
	if rw.mode == modeUndecided {
		rw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rw.ResponseWriterWrapper.ResponseWriter).Flush()
}

// FlushError lets http.ResponseController reach Flush.
func (rw *responseWriter) FlushError() error {
	rw.Flush()
	return nil
}

// writeSSE splits the stream into events and writes each whole event,
// rewritten, as soon as it is complete. Events that arrive whole are
// rewritten from p itself; only an event split across writes is copied.
func (rw *responseWriter) writeSSE(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if rw.failed {
			return n, io.ErrShortWrite
		}
		end := wire.EventEnd(rw.buf, p)
		if end < 0 {
			if !rw.hold(len(p)) {
				return n, io.ErrShortWrite
			}
			rw.buf = append(rw.buf, p...)
			return n, nil
		}
		ev := p[:end]
		if len(rw.buf) > 0 {
			if !rw.hold(end) {
				return n, io.ErrShortWrite
			}
			rw.buf = append(rw.buf, p[:end]...)
			ev = rw.buf
		}
		p = p[end:]
		if err := rw.emitEvent(ev); err != nil {
			rw.failed = true
			return n, err
		}
		rw.buf = rw.buf[:0]
		if cap(rw.buf) > keptBuffer {
			rw.acct.drop(rw.buf)
			rw.buf = nil
		}
	}
	_ = http.NewResponseController(rw.ResponseWriterWrapper.ResponseWriter).Flush()
	return n, nil
}

// emitEvent writes one complete SSE event, rewritten for the caller, or
// nothing when it must be withheld.
func (rw *responseWriter) emitEvent(ev []byte) error {
	if bytes.Count(ev, []byte("data")) > 1 {
		// Data of several lines is joined into the scratch buffer.
		sc, ok := rw.acct.grow(rw.scratch[:0], len(ev), maxFilteredResponse)
		if !ok {
			rw.outOfMemory()
			return errShort
		}
		rw.scratch = sc
	}
	var e wire.Event
	e, rw.scratch = wire.ParseEvent(ev, rw.scratch)
	if e.Lines == 0 {
		_, err := rw.ResponseWriterWrapper.Write(ev)
		return err
	}
	edits, drop, err := rw.rewrite.Message(e.Data, rw.edits[:0])
	rw.edits = edits
	if err != nil {
		return err
	}
	if drop {
		return nil
	}
	err = wire.WriteEvent(&rw.ResponseWriterWrapper, e, edits)
	if cap(rw.scratch) > keptBuffer {
		rw.acct.drop(rw.scratch)
		rw.scratch = nil
	}
	return err
}

// finish ends the reply once the backend is done: a buffered JSON reply is
// rewritten and written; an unfinished SSE event is dropped (a client
// discards it too). It reports whether the reply had to be withheld.
func (rw *responseWriter) finish() (refused bool) {
	if rw.mode != modeJSON {
		return rw.failed
	}
	var edits wire.Edits
	if !rw.failed {
		var drop bool
		var err error
		edits, drop, err = rw.rewrite.Message(rw.buf, rw.edits[:0])
		rw.edits = edits
		rw.failed = err != nil || drop
	}
	h := rw.Header()
	if rw.failed {
		status, text := http.StatusBadGateway, "the gateway could not filter the reply, so it is withheld"
		if rw.short {
			status, text = http.StatusServiceUnavailable, "the gateway is short of memory for this reply; retry shortly"
			h.Set("Retry-After", strconv.Itoa(retryAfterBudget))
		}
		body := append(rpcErrorBody(nil, wire.CodeInternalError, text), '\n')
		for _, k := range []string{"Content-Encoding", "Mcp-Session-Id", "Upgrade", "Connection"} {
			h.Del(k)
		}
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		rw.ResponseWriterWrapper.WriteHeader(status)
		_, _ = rw.ResponseWriterWrapper.Write(body)
	} else {
		if rw.hadLength {
			h.Set("Content-Length", strconv.Itoa(edits.Size(rw.buf)))
		}
		rw.ResponseWriterWrapper.WriteHeader(rw.status)
		_ = edits.WriteTo(&rw.ResponseWriterWrapper, rw.buf)
	}
	if cap(rw.buf) > keptBuffer {
		rw.acct.drop(rw.buf)
		rw.buf = nil
	}
	return rw.failed
}

// hold makes room for n more bytes of a reply that must be read: within
// maxFilteredResponse and the memory budget. When it cannot, the reply is
// withheld: 502 for one too large to filter, 503 for want of memory.
func (rw *responseWriter) hold(n int) bool {
	if len(rw.buf)+n > maxFilteredResponse {
		rw.failed = true
	} else if buf, ok := rw.acct.grow(rw.buf, n, maxFilteredResponse); ok {
		rw.buf = buf
		return true
	} else {
		rw.failed = true
		rw.outOfMemory()
	}
	rw.acct.drop(rw.buf)
	rw.buf = nil
	return false
}

// outOfMemory marks the reply as one the budget could not hold, counted
// at once: a stream that ends for it never comes back to forward
// (reverse_proxy aborts the handler on a failed streaming write).
func (rw *responseWriter) outOfMemory() {
	if !rw.short {
		rw.short = true
		rw.m.metrics.refusal(reasonBudget)
	}
}

// errShort ends a stream for want of memory.
var errShort = errors.New("mcp_auth: memory budget exhausted")

// placeholdersOf returns the request's replacer, if any.
func placeholdersOf(r *http.Request) *caddy.Replacer {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	return repl
}

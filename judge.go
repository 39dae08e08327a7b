package mcpauth

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// judge is the second step for a POST: the body is read (up to max_body),
// classified strictly, checked against the Mcp-* headers and the
// protocol revision, and every message in it decided. It returns a
// refusal, or leaves the decisions in ex and the body, as judged, on r.
func (m *MCPAuth) judge(r *http.Request, ex *exchange) *refusal {
	if rf := mediaType(r); rf != nil {
		return rf
	}
	if r.ContentLength > m.MaxBody {
		return rpcRefusal(http.StatusRequestEntityTooLarge, reasonTooLarge, wire.CodeInvalidRequest, nil, m.tooLarge())
	}
	pb, err := readBody(r.Body, m.MaxBody, account{b: m.budget, p: ex.p.id})
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return rpcRefusal(http.StatusRequestEntityTooLarge, reasonTooLarge, wire.CodeInvalidRequest, nil, m.tooLarge())
		}
		if errors.Is(err, errBudget) {
			return budgetRefusal()
		}
		return rpcRefusal(http.StatusBadRequest, reasonUnreadable, wire.CodeParseError, nil, "parse error: the body could not be read")
	}
	// The body was read to its end: whatever trailers came with it are
	// dropped, and the backend gets exactly these bytes.
	r.Trailer = nil
	r.Body = pb
	r.GetBody = nil
	r.ContentLength = int64(len(pb.bytes()))
	r.TransferEncoding = nil
	r.Header.Del("Content-Length") // the transport sends ContentLength

	rf := m.decideBody(r, ex, pb.bytes())
	if rf != nil {
		_ = pb.Close() // refused: nothing else reads the body
		return rf
	}
	if len(ex.edits) > 0 {
		// The body as judged, with the module's own rewrites: bound ids
		// unwrapped, hidden names replaced. Nothing else changes.
		edits := ex.edits.Settle()
		acct := account{b: m.budget, p: ex.p.id}
		buf, ok := acct.grow(nil, edits.Size(pb.bytes()), int(m.MaxBody)+maxRewriteGrowth)
		if !ok {
			_ = pb.Close()
			return budgetRefusal()
		}
		rewritten := newPooledBody(edits.Apply(buf, pb.bytes()), acct)
		_ = pb.Close()
		r.Body = rewritten
		r.ContentLength = int64(len(rewritten.bytes()))
		if ex.mcpName != "" && !ex.body.Batch && len(r.Header.Values("Mcp-Name")) == 1 {
			r.Header.Set("Mcp-Name", ex.mcpName)
		}
	}
	return nil
}

// maxRewriteGrowth bounds what the module's own rewrites add to a body:
// a bound id unwraps to a shorter one, a random id or cursor is at most
// 44 bytes, and a batch holds at most 100 messages.
const maxRewriteGrowth = 64 << 10

// budgetRefusal is the answer when the memory budget cannot hold a
// request: try again in a moment.
func budgetRefusal() *refusal {
	rf := plainRefusal(http.StatusServiceUnavailable, reasonBudget, "the gateway is short of memory for this request; retry shortly")
	rf.retryAfter = retryAfterBudget
	return rf
}

func (m *MCPAuth) tooLarge() string {
	return "request body too large: the limit is " + itoa(int(m.MaxBody)) + " bytes"
}

// decideBody classifies and decides a body.
func (m *MCPAuth) decideBody(r *http.Request, ex *exchange, body []byte) *refusal {
	if e := wire.ClassifyWith(body, &ex.body, m.ext); e != nil {
		return rpcRefusal(http.StatusBadRequest, classReason(e.Class), e.Code, e.ID, e.Msg)
	}
	msgs := ex.body.Msgs
	if rf := m.checkRevision(r, msgs); rf != nil {
		return rf
	}
	if why := checkMCPHeaders(r, ex.body.Batch, msgs); why != "" {
		return rpcRefusal(http.StatusBadRequest, reasonHeaderMismatch, wire.CodeHeaderMismatch, msgs[0].ID, "header mismatch: "+why)
	}
	// The bound ids first: a request state that does not open refuses the
	// body before anything is decided, counted or audited as allowed.
	if rf := m.bindRequest(ex); rf != nil {
		return rf
	}

	p := ex.p
	if len(msgs) <= len(ex.small) {
		ex.decisions = ex.small[:len(msgs)]
	} else {
		ex.decisions = make([]Decision, len(msgs))
	}
	anyDenied := false
	for i := range msgs {
		msg := &msgs[i]
		d := Decision{Allowed: true, Lifecycle: true}
		if msg.Kind != wire.KindResponse {
			d = decide(p.roles, msg.Action)
			if d.Allowed && len(msg.Subscriptions) > 0 {
				d = m.decideSubscriptions(p, msg, d)
			}
		}
		ex.decisions[i] = d
		anyDenied = anyDenied || !d.Allowed
	}
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		method, target := summarize(msgs)
		repl.Set("http.mcp_auth.method", method)
		repl.Set("http.mcp_auth.target", target)
		if anyDenied {
			repl.Set("http.mcp_auth.decision", "deny")
		} else {
			repl.Set("http.mcp_auth.decision", "allow")
		}
	}
	m.recordDecisions(r, p, msgs, ex.decisions, anyDenied)
	if anyDenied {
		if rf := m.denied(ex); rf != nil {
			return rf
		}
	}
	ex.readReply = readsReply(r, msgs, len(ex.edits) > 0)
	return nil
}

// readsReply tells whether a JSON reply to the body must be read whole:
// it may carry what the module rewrites (a list, a task id, a request
// state, a cursor, a hidden name put back). A reply to anything else
// passes through as it streams: a tools/call, prompts/get or
// resources/read under a revision before 2026-07-28, that asks for no
// task, had nothing rewritten and is not in a batch. Anything unsure is read; a reply that
// should have been and was not fails closed, since what it would have
// bound comes back unbound and is refused.
func readsReply(r *http.Request, msgs []wire.Message, rewritten bool) bool {
	if rewritten || len(msgs) > 1 {
		// A batch's reply is an array that may carry notifications
		// (resources/updated, list_changed) the caller may not see.
		return true
	}
	header := r.Header.Get("Mcp-Protocol-Version")
	for i := range msgs {
		msg := &msgs[i]
		if msg.Kind != wire.KindRequest {
			continue
		}
		method := msg.Action.Method
		if _, known := wire.Lookup(method); !known || msg.Task ||
			msg.TaskID.Present() || msg.RequestState.Present() || msg.Cursor.Present() {
			return true
		}
		if c := wire.ClassOf(method); c == wire.ClassList || c == wire.ClassTask {
			return true
		}
		rev := msg.Version
		if rev == "" {
			rev = header
		}
		if i := wire.RevisionIndex(rev); i < 0 || i >= wire.RevisionIndex("2026-07-28") {
			return true
		}
	}
	return false
}

// decideSubscriptions judges the resource subscriptions of a
// subscriptions/listen, each as resources/subscribe of its URI. The first
// denied one decides, unless hide_denied forwards the request (a refusal
// would reveal that the resource exists; the reply is filtered instead).
func (m *MCPAuth) decideSubscriptions(p *principal, msg *wire.Message, d Decision) Decision {
	for _, s := range msg.Subscriptions {
		sd := decide(p.roles, Action{Method: "resources/subscribe", Target: s.Value, HasTarget: true})
		if !sd.Allowed && m.HideDenied == nil {
			sd.Subscription = s.Value
			return sd
		}
	}
	return d
}

// classReason names a classifier refusal for the metric and the audit.
func classReason(c wire.ErrClass) string {
	switch c {
	case wire.ErrAmbiguous:
		return reasonAmbiguous
	case wire.ErrNotCanonical:
		return reasonURI
	case wire.ErrBatch:
		return reasonBatch
	}
	return reasonMalformed
}

// checkRevision compares the MCP-Protocol-Version header with the
// revision the body names, and applies min_protocol_version.
func (m *MCPAuth) checkRevision(r *http.Request, msgs []wire.Message) *refusal {
	hv := r.Header.Values("Mcp-Protocol-Version")
	if len(hv) > 1 {
		return rpcRefusal(http.StatusBadRequest, reasonHeaderMismatch, wire.CodeHeaderMismatch, msgs[0].ID,
			"header mismatch: MCP-Protocol-Version may appear once")
	}
	rev := ""
	if len(hv) == 1 {
		rev = hv[0]
		if rf := m.versionHeader(rev, msgs[0].ID); rf != nil {
			return rf
		}
	}
	for i := range msgs {
		v := msgs[i].Version
		if v == "" {
			continue
		}
		if msgs[i].Action.Method == "initialize" {
			// initialize proposes the session's revision: it must meet
			// the minimum too, whatever the header says.
			if rf := m.minVersion(v, msgs[i].ID); rf != nil {
				return rf
			}
			continue
		}
		// Backends disagree on which one counts (the TypeScript SDK v1
		// reads the header only): the two must agree, and a body that
		// names its revision must say so in the header too, as the Go SDK
		// and the TypeScript SDK v2 require.
		if len(hv) == 0 {
			return rpcRefusal(http.StatusBadRequest, reasonHeaderMismatch, wire.CodeHeaderMismatch, msgs[i].ID,
				"header mismatch: _meta names a protocol version but the MCP-Protocol-Version header is missing")
		}
		if v != rev {
			return rpcRefusal(http.StatusBadRequest, reasonHeaderMismatch, wire.CodeHeaderMismatch, msgs[i].ID,
				"header mismatch: MCP-Protocol-Version does not match the protocol version in _meta")
		}
	}
	if rev == "" && len(msgs) > 0 && msgs[0].Action.Method == "initialize" {
		rev = msgs[0].Version
	}
	return m.minVersion(rev, msgs[0].ID)
}

// minVersion refuses a revision older than min_protocol_version (an
// unknown one too, while a minimum is set). A request that names no
// revision is 2025-03-26.
func (m *MCPAuth) minVersion(rev string, id []byte) *refusal {
	if m.minRevision == 0 {
		return nil
	}
	if rev == "" {
		rev = wire.OldestRevision
	}
	if i := wire.RevisionIndex(rev); i < m.minRevision {
		return m.unsupportedVersion(rev, id, "this endpoint accepts "+m.MinProtocolVersion+" and later")
	}
	return nil
}

// versionHeader refuses an MCP-Protocol-Version that is no revision at
// all (a revision is a date, YYYY-MM-DD): backends compare it as they
// like (the Go SDK as a string, so "9" is newer than any revision).
func (m *MCPAuth) versionHeader(v string, id []byte) *refusal {
	ok := len(v) == 10 && v[4] == '-' && v[7] == '-'
	for i := 0; ok && i < len(v); i++ {
		ok = i == 4 || i == 7 || v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		return m.unsupportedVersion(v, id, "MCP-Protocol-Version must name one revision, such as 2025-11-25")
	}
	return nil
}

// unsupportedVersion is revision 2026-07-28's answer to a version the
// endpoint does not accept: 400, -32022, with the supported ones.
func (m *MCPAuth) unsupportedVersion(rev string, id []byte, why string) *refusal {
	rf := rpcRefusal(http.StatusBadRequest, reasonVersion, wire.CodeUnsupportedVersion, id,
		"unsupported protocol version "+wire.Quote(truncate(rev))+": "+why)
	data := []byte(`{"supported":[`)
	for i, r := range wire.Revisions[m.minRevision:] {
		if i > 0 {
			data = append(data, ',')
		}
		data = wire.AppendQuote(data, r)
	}
	data = append(data, `],"requested":`...)
	rf.data = wire.AppendQuote(data, truncate(rev))
	rf.data = append(rf.data, '}')
	return rf
}

// checkVersionHeader applies the revision rules to a GET or DELETE, which
// has only the header.
func (m *MCPAuth) checkVersionHeader(r *http.Request) *refusal {
	hv := r.Header.Values("Mcp-Protocol-Version")
	switch len(hv) {
	case 0:
		return m.minVersion("", nil)
	case 1:
		if rf := m.versionHeader(hv[0], nil); rf != nil {
			return rf
		}
		return m.minVersion(hv[0], nil)
	}
	return rpcRefusal(http.StatusBadRequest, reasonHeaderMismatch, wire.CodeHeaderMismatch, nil,
		"header mismatch: MCP-Protocol-Version may appear once")
}

// denied answers a body in which some message was denied, or, under
// hide_denied, rewrites every denied item to a random name and lets the
// body go on (nil). Precedence: a step-up answer for an OAuth caller whom
// some scope would entitle (403 insufficient_scope) wins; else
// hide_denied, when every denied message names an item; else deny_with.
// In a batch, one step-up element makes the whole answer the step-up
// 403, and a batch with any denied element (not hidden) is refused whole:
// one error for each request in it.
func (m *MCPAuth) denied(ex *exchange) *refusal {
	msgs, ds := ex.body.Msgs, ex.decisions
	hidden := m.HideDenied != nil
	for i := range msgs {
		if ds[i].Allowed {
			continue
		}
		a := deniedAction(&msgs[i], ds[i])
		if scope, ok := m.mapper.stepUp(ex.p, a); ok {
			return &refusal{status: http.StatusForbidden, reason: reasonScope, challenge: true, oauthError: "insufficient_scope",
				scope: scope, desc: deniedMessage(a) + " (needs scope " + scope + ")"}
		}
		hidden = hidden && ds[i].Subscription == "" && hideable(&msgs[i])
	}
	if hidden {
		for i := range msgs {
			if !ds[i].Allowed {
				ex.hide(&msgs[i])
			}
		}
		return nil
	}
	status := http.StatusOK
	if m.DenyWith == denyStatus {
		status = http.StatusForbidden
	}
	answerOf := func(i int) []byte {
		msg := &msgs[i]
		if ds[i].Allowed {
			return rpcErrorBody(msg.ID, wire.CodePermissionDenied, "batch refused: another request in the batch was denied")
		}
		return rpcErrorBody(msg.ID, wire.CodePermissionDenied, deniedMessage(deniedAction(msg, ds[i])))
	}
	if !ex.body.Batch {
		return &refusal{status: status, body: answerOf(0)}
	}
	var out bytes.Buffer
	out.WriteByte('[')
	n := 0
	for i := range msgs {
		if msgs[i].Kind != wire.KindRequest {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		out.Write(answerOf(i))
	}
	out.WriteByte(']')
	if n == 0 {
		// Only notifications were denied: nothing to answer per request.
		return &refusal{status: http.StatusForbidden, rpc: true, code: wire.CodePermissionDenied,
			desc: "batch refused: a notification in the batch was denied"}
	}
	return &refusal{status: status, body: out.Bytes()}
}

// deniedAction is the action a denial names: the message's own, or the
// subscription of a subscriptions/listen that was denied.
func deniedAction(msg *wire.Message, d Decision) Action {
	if d.Subscription != "" {
		return Action{Method: "resources/subscribe", Target: d.Subscription, HasTarget: true}
	}
	return msg.Action
}

func deniedMessage(a Action) string {
	if a.HasTarget {
		return "permission denied: " + a.Method + " " + wire.Quote(a.Target)
	}
	return "permission denied: " + a.Method
}

// summarize gives the method and target placeholders: the message's own,
// or for a batch the comma-separated lists of its requests'.
func summarize(msgs []wire.Message) (string, string) {
	if len(msgs) == 1 {
		return msgs[0].Action.Method, msgs[0].Action.Target
	}
	var ms, ts []string
	for i := range msgs {
		if msgs[i].Kind == wire.KindResponse {
			continue
		}
		ms = append(ms, msgs[i].Action.Method)
		ts = append(ts, msgs[i].Action.Target)
	}
	return strings.Join(ms, ","), strings.Join(ts, ",")
}

// recordDecisions counts every decision, and logs and audits the body
// once: a single message by its action, a batch by its counts and its
// denied items (at most maxListed of them).
func (m *MCPAuth) recordDecisions(r *http.Request, p *principal, msgs []wire.Message, ds []Decision, anyDenied bool) {
	outcome, level, text := "allow", zapcore.DebugLevel, "allowed"
	if anyDenied {
		outcome, level, text = "deny", zapcore.InfoLevel, "denied"
	}
	for i := range msgs {
		if msgs[i].Kind != wire.KindResponse {
			m.metrics.decision(outcome, roleLabel(ds[i]), methodLabel(msgs[i].Action.Method))
		}
	}
	ce := m.logger.Check(level, text)
	if ce == nil && m.audit == nil {
		return
	}
	fields := decisionFields(msgs, ds)
	if ce != nil {
		ce.Write(append([]zap.Field{zap.String("user", p.name), zap.String("roles", p.rolesStr)}, fields...)...)
	}
	if m.audit != nil {
		m.audit.Info("decision", append(append(m.auditFields(r, p), fields...), zap.String("decision", outcome))...)
	}
}

// maxListed bounds the denied items named in one entry.
const maxListed = 10

// decisionFields describe the decision on a body.
func decisionFields(msgs []wire.Message, ds []Decision) []zap.Field {
	if len(msgs) == 1 {
		a := deniedAction(&msgs[0], ds[0])
		return []zap.Field{zap.String("method", a.Method), zap.String("target", truncate(a.Target)), zap.String("rule", ds[0].Reason())}
	}
	allowed, denied := 0, 0
	var names []string
	rule := "batch"
	for i := range msgs {
		if msgs[i].Kind == wire.KindResponse {
			continue
		}
		if ds[i].Allowed {
			allowed++
			continue
		}
		if denied == 0 {
			rule = ds[i].Reason()
		}
		denied++
		if len(names) < maxListed {
			a := deniedAction(&msgs[i], ds[i])
			names = append(names, truncate(strings.TrimSpace(a.Method+" "+a.Target)))
		}
	}
	return []zap.Field{zap.String("method", "batch"), zap.Int("messages", len(msgs)), zap.Int("allowed", allowed),
		zap.Int("denied", denied), zap.Strings("denied_items", names), zap.String("rule", rule)}
}

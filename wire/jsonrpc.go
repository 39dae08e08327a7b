// Package wire is the protocol core of mcp_auth: the strict reading of
// JSON-RPC request bodies, the canonical form of resource URIs, the
// rewriting of replies (filtered lists, bound ids) and Server-Sent Events
// framing. It imports nothing of Caddy, zap or net/http, so that it can be
// read, fuzzed and benchmarked on its own.
package wire

import (
	"bytes"
	"strconv"
)

// JSON-RPC error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeHeaderMismatch: revision 2026-07-28's code for an Mcp-* header
	// or MCP-Protocol-Version that disagrees with the body.
	CodeHeaderMismatch = -32020
	// CodeUnsupportedVersion: revision 2026-07-28's code for a protocol
	// revision the server does not accept.
	CodeUnsupportedVersion = -32022

	// CodePermissionDenied is the code of a request that the caller's
	// roles do not allow. It lies in the implementation-defined
	// server-error range and avoids every code that MCP and its official
	// SDKs give a meaning: -32000, -32001 (TypeScript: connection closed,
	// request timeout), -32001..-32005 (Go SDK internals; -32003 is its
	// "client is closing"), -32002 (resource not found), -32020..-32022
	// (header mismatch, capabilities, protocol version), -32042 (URL
	// elicitation).
	CodePermissionDenied = -32030
)

// The _meta keys the module reads.
const (
	MetaRelatedTask     = "io.modelcontextprotocol/related-task"
	MetaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
)

// MaxBatch bounds the messages of a JSON-RPC batch (revision 2025-03-26;
// later revisions dropped batches). The TypeScript SDK caps batches at
// the same number.
const MaxBatch = 100

// Kind is what a JSON-RPC message is, decided from the fields present.
type Kind uint8

const (
	KindRequest Kind = iota + 1
	KindNotification
	KindResponse
)

// Action is what a request asks to do: a JSON-RPC method and its target.
type Action struct {
	Method    string
	Target    string
	HasTarget bool
	// Ref is the params.ref.type of completion/complete ("ref/prompt" or
	// "ref/resource"); empty for every other method.
	Ref string
}

// Field is a string value read from a body, with where its raw JSON
// string stands (for a rewrite). At is empty when the field is absent.
type Field struct {
	Value string
	At    Span
}

// Present reports whether the field was in the body.
func (f Field) Present() bool { return f.At.End > f.At.Start }

// Message is one classified JSON-RPC message.
type Message struct {
	Kind Kind
	// ID is the raw JSON of the id, byte for byte as the client sent it;
	// nil when the message has none.
	ID     []byte
	Action Action
	// TargetAt is where the raw JSON string of the target stands.
	TargetAt Span
	// Subscriptions are the resource URIs of a subscriptions/listen
	// (params.notifications.resourceSubscriptions), each judged as
	// resources/subscribe; ListenTasks the task ids it asks notifications
	// of (params.notifications.taskIds, the tasks extension).
	Subscriptions, ListenTasks []Field
	// Cursor is params.cursor; TaskID params.taskId; RelatedTask the
	// taskId of params._meta's related-task entry.
	Cursor, TaskID, RelatedTask Field
	// Version is the protocol revision the message names: its _meta
	// protocolVersion, or initialize's params.protocolVersion.
	Version string
	// Task is set on a task-augmented request (params.task present).
	Task bool
	// RequestState is params.requestState of a multi-round-trip retry.
	RequestState Field
}

// Body is a classified request body.
type Body struct {
	Batch bool
	Msgs  []Message
	one   [1]Message
}

// Error is a refusal of a body before any policy is consulted.
type Error struct {
	Code  int
	Msg   string
	ID    []byte // raw id when known, else nil (rendered as null)
	Class ErrClass
}

// ErrClass is what kind of refusal an Error is.
type ErrClass uint8

const (
	// ErrSyntax: not UTF-8 JSON.
	ErrSyntax ErrClass = iota
	// ErrShape: not a JSON-RPC message as MCP sends one.
	ErrShape
	// ErrAmbiguous: a duplicate or case-variant key, or a string that
	// decoders read differently: two readings of one body.
	ErrAmbiguous
	// ErrNotCanonical: a resource URI not in canonical form.
	ErrNotCanonical
	// ErrBatch: a batch over MaxBatch.
	ErrBatch
	// ErrParams: a params field of the wrong type.
	ErrParams
)

func (e *Error) Error() string { return e.Msg }

func parseErr(msg string) *Error { return &Error{Code: CodeParseError, Msg: msg, Class: ErrSyntax} }

func invalidReq(id []byte, msg string) *Error {
	return &Error{Code: CodeInvalidRequest, Msg: msg, ID: id, Class: ErrShape}
}

func ambiguous(id []byte, msg string) *Error {
	return &Error{Code: CodeInvalidRequest, Msg: msg, ID: id, Class: ErrAmbiguous}
}

func invalidParams(id []byte, msg string) *Error {
	return &Error{Code: CodeInvalidParams, Msg: msg, ID: id, Class: ErrParams}
}

func notCanonical(id []byte, msg string) *Error {
	return &Error{Code: CodeInvalidParams, Msg: msg, ID: id, Class: ErrNotCanonical}
}

// Classify parses a POST body strictly into out. Nothing in the body is
// judged here; the caller judges each message's action.
//
// Strictness: the body must be valid UTF-8 and valid JSON without a BOM;
// each message an object with "jsonrpc":"2.0"; in every object the
// classifier reads (the message, params, params.ref, params._meta and its
// related-task entry, params.notifications, params.task,
// params.inputResponses) no key may appear twice (after decoding escapes)
// and no key may equal a key the module reads up to case only; every
// string the module judges is free of escaped lone surrogates.
func Classify(body []byte, out *Body) *Error {
	out.Batch, out.Msgs = false, nil
	if !validUTF8(body) {
		return parseErr("parse error: body is not valid UTF-8")
	}
	if !ValidJSON(body) {
		return parseErr("parse error: body is not valid JSON")
	}
	i := skipWS(body, 0)
	switch body[i] {
	case '{':
		out.one[0] = Message{}
		_, err := parseMessage(body, i, &out.one[0])
		if err != nil {
			return err
		}
		out.Msgs = out.one[:]
		return nil
	case '[':
		out.Batch = true
		i = skipWS(body, i+1)
		if body[i] == ']' {
			return invalidReq(nil, "invalid request: empty batch")
		}
		for {
			if body[i] != '{' {
				return invalidReq(nil, "invalid request: batch element is not an object")
			}
			if len(out.Msgs) == MaxBatch {
				return &Error{Code: CodeInvalidRequest, Msg: "invalid request: a batch holds at most 100 messages", Class: ErrBatch}
			}
			out.Msgs = append(out.Msgs, Message{})
			next, err := parseMessage(body, i, &out.Msgs[len(out.Msgs)-1])
			if err != nil {
				return err
			}
			i = skipWS(body, next)
			if body[i] == ']' {
				return duplicateIDs(out.Msgs)
			}
			i = skipWS(body, i+1) // ','
		}
	default:
		return invalidReq(nil, "invalid request: not a JSON-RPC message")
	}
}

// duplicateIDs refuses a batch in which two requests share an id: the
// TypeScript SDK runs both and answers one, the Go SDK runs only the
// first.
func duplicateIDs(msgs []Message) *Error {
	seen := make(map[string]bool, len(msgs))
	for i := range msgs {
		if msgs[i].Kind != KindRequest {
			continue
		}
		key := string(msgs[i].ID)
		if key[0] == '"' {
			s, _ := DecodeString(msgs[i].ID)
			key = "s" + s
		} else if key == "-0" {
			key = "0"
		}
		if seen[key] {
			return ambiguous(nil, "invalid request: two requests of the batch have the id "+string(msgs[i].ID))
		}
		seen[key] = true
	}
	return nil
}

// field flags of a message.
const (
	hasJSONRPC = 1 << iota
	hasID
	hasMethod
	hasParams
	hasResult
	hasError
)

func idEchoable(first byte) bool {
	return first == '"' || first == '-' || (first >= '0' && first <= '9')
}

// parseMessage reads the object at body[i] (valid JSON guaranteed) into m
// and returns the index after it.
func parseMessage(body []byte, i int, m *Message) (int, *Error) {
	var (
		flags           int
		jsonrpc, method Span
		params          Span
		idFirst         byte
		idAmbiguous     bool // a duplicate or case variant of "id"
		dupErr          *Error
		seen            keySet
	)
	end := walkObject(body, i, func(key []byte, v Span) bool {
		if e := seen.add(key); e != "" {
			if dupErr == nil {
				dupErr = ambiguous(nil, "invalid request: "+e)
			}
			if len(key) <= 8 && bytes.EqualFold(key, []byte("id")) {
				idAmbiguous = true
			}
			return true // read on: the id may come later
		}
		switch string(key) {
		case "jsonrpc":
			flags |= hasJSONRPC
			jsonrpc = v
		case "id":
			flags |= hasID
			m.ID = body[v.Start:v.End]
			idFirst = body[v.Start]
		case "method":
			flags |= hasMethod
			method = v
		case "params":
			flags |= hasParams
			params = v
		case "result":
			flags |= hasResult
		case "error":
			flags |= hasError
		}
		return true
	})
	if dupErr != nil {
		if flags&hasID != 0 && !idAmbiguous && idEchoable(idFirst) {
			dupErr.ID = m.ID
		}
		return end, dupErr
	}
	// From here on the id is known well enough to echo, when it is a string
	// or an integer; an id of another type is not echoed.
	if flags&hasID != 0 && !idEchoable(idFirst) {
		if !(idFirst == 'n' && flags&hasMethod == 0) { // null is allowed only in responses
			return end, invalidReq(nil, "invalid request: id must be a string or an integer")
		}
	}
	if flags&hasID != 0 && idFirst != '"' && idFirst != 'n' && !safeInteger(m.ID) {
		// MCP ids are strings or integers. A fraction, an exponent or an
		// integer beyond ±2^53 is read differently by different decoders
		// (the Go SDK turns 1.5 into 1), so responses could be matched to
		// the wrong request.
		return end, invalidReq(nil, "invalid request: a numeric id must be an integer within ±2^53")
	}
	if flags&hasID != 0 && idFirst == '"' {
		if _, ok := DecodeString(m.ID); !ok {
			return end, ambiguous(nil, "invalid request: the id holds an escaped lone surrogate")
		}
	}
	id := m.ID
	if id != nil && id[0] == 'n' {
		id = nil
	}
	if flags&hasJSONRPC == 0 || !bytes.Equal(body[jsonrpc.Start:jsonrpc.End], []byte(`"2.0"`)) {
		return end, invalidReq(id, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if flags&hasMethod != 0 {
		if flags&(hasResult|hasError) != 0 {
			return end, invalidReq(id, "invalid request: a message cannot have both method and result or error")
		}
		name, ok := DecodeString(body[method.Start:method.End])
		if !ok || name == "" {
			if raw := body[method.Start:method.End]; raw[0] == '"' && loneSurrogate(raw[1:len(raw)-1]) {
				return end, ambiguous(id, "invalid request: method must be a non-empty string; it holds an escaped lone surrogate")
			}
			return end, invalidReq(id, "invalid request: method must be a non-empty string")
		}
		m.Action.Method = name
		if flags&hasID != 0 {
			m.Kind = KindRequest
		} else {
			m.Kind = KindNotification
		}
		if flags&hasParams != 0 {
			if body[params.Start] != '{' {
				return end, invalidReq(id, "invalid request: params must be an object")
			}
			if err := m.readParams(body, params.Start, id); err != nil {
				return end, err
			}
		}
		return end, nil
	}
	// No method: a response from the client to a server request.
	if flags&hasID == 0 || (flags&hasResult != 0) == (flags&hasError != 0) || flags&hasParams != 0 {
		return end, invalidReq(id, "invalid request: neither a request, a notification nor a response")
	}
	m.Kind = KindResponse
	return end, nil
}

// readParams reads what the module judges or rewrites in params (the
// object at body[p]).
func (m *Message) readParams(body []byte, p int, id []byte) *Error {
	var name, uri, ref, cursor, taskID, meta, notifications, task, inputResponses, requestState, protocolVersion Span
	if e := strictObject(body, p, func(key []byte, v Span) {
		switch string(key) {
		case "name":
			name = v
		case "uri":
			uri = v
		case "ref":
			ref = v
		case "cursor":
			cursor = v
		case "taskId":
			taskID = v
		case "_meta":
			meta = v
		case "notifications":
			notifications = v
		case "task":
			task = v
		case "inputResponses":
			inputResponses = v
		case "requestState":
			requestState = v
		case "protocolVersion":
			protocolVersion = v
		}
	}); e != "" {
		return ambiguous(id, "invalid request: params: "+e)
	}
	var err *Error
	str := func(what string, at Span) Field {
		if err != nil || at.Len() == 0 {
			return Field{}
		}
		s, ok := DecodeString(body[at.Start:at.End])
		if !ok {
			err = stringError(body, at, id, what+" must be a string")
			return Field{}
		}
		return Field{Value: s, At: at}
	}
	obj := func(what string, at Span, f func(key []byte, v Span)) {
		if err != nil || at.Len() == 0 {
			return
		}
		if body[at.Start] != '{' {
			err = invalidParams(id, "invalid params: "+what+" must be an object")
			return
		}
		if e := strictObject(body, at.Start, f); e != "" {
			err = ambiguous(id, "invalid request: "+what+": "+e)
		}
	}

	// _meta, everywhere: the protocol version and the related task.
	var related, metaVersion Span
	obj("params._meta", meta, func(key []byte, v Span) {
		switch string(key) {
		case MetaRelatedTask:
			related = v
		case MetaProtocolVersion:
			metaVersion = v
		}
	})
	var relatedID Span
	obj("params._meta related-task", related, func(key []byte, v Span) {
		if string(key) == "taskId" {
			relatedID = v
		}
	})
	m.RelatedTask = str("the related-task taskId", relatedID)
	if v := str("params._meta protocolVersion", metaVersion); v.Present() {
		m.Version = v.Value
	}
	if m.Action.Method == "initialize" {
		if v := str("params.protocolVersion", protocolVersion); v.Present() && m.Version == "" {
			m.Version = v.Value
		}
	}
	obj("params.task", task, func([]byte, Span) {})
	m.Task = task.Len() > 0
	obj("params.inputResponses", inputResponses, func([]byte, Span) {})
	m.RequestState = str("params.requestState", requestState)
	m.Cursor = str("params.cursor", cursor)
	if ClassOf(m.Action.Method) == ClassTask {
		m.TaskID = str("params.taskId", taskID)
	}
	if err != nil {
		return err
	}

	mi, known := Lookup(m.Action.Method)
	if !known {
		return nil
	}
	if m.Action.Method == "subscriptions/listen" {
		return m.readSubscriptions(body, notifications, id)
	}
	switch mi.Target {
	case TargetName:
		return m.setTarget(body, name, id, "params.name", false)
	case TargetURI:
		return m.setTarget(body, uri, id, "params.uri", true)
	case TargetRef:
		return m.readRef(body, ref, id)
	}
	return nil
}

// setTarget sets the action's target from a name or URI field. An absent
// field is no target (rules without targets match, and the backend gives
// its own answer); a field of the wrong type, or an empty one, is refused.
func (m *Message) setTarget(body []byte, at Span, id []byte, what string, isURI bool) *Error {
	if at.Len() == 0 {
		return nil
	}
	s, ok := DecodeString(body[at.Start:at.End])
	if !ok || s == "" {
		return stringError(body, at, id, m.Action.Method+" needs "+what+", a non-empty string")
	}
	if isURI {
		if why := URIProblem(s); why != "" {
			return notCanonical(id, "invalid params: resource URI "+why)
		}
	}
	m.Action.Target, m.Action.HasTarget, m.TargetAt = s, true, at
	return nil
}

// stringError refuses a judged field that is not a non-empty string: as
// ambiguous when it is a string with an escaped lone surrogate (which
// decoders read differently), else as invalid params.
func stringError(body []byte, at Span, id []byte, what string) *Error {
	raw := body[at.Start:at.End]
	if len(raw) > 2 && raw[0] == '"' && loneSurrogate(raw[1:len(raw)-1]) {
		return &Error{Code: CodeInvalidParams, Msg: "invalid params: " + what + "; it holds an escaped lone surrogate", ID: id, Class: ErrAmbiguous}
	}
	return invalidParams(id, "invalid params: "+what)
}

// readRef reads params.ref of completion/complete.
func (m *Message) readRef(body []byte, at Span, id []byte) *Error {
	if at.Len() == 0 {
		return nil
	}
	if body[at.Start] != '{' {
		return invalidParams(id, "invalid params: completion/complete needs params.ref, an object")
	}
	var typ, rname, ruri Span
	if e := strictObject(body, at.Start, func(key []byte, v Span) {
		switch string(key) {
		case "type":
			typ = v
		case "name":
			rname = v
		case "uri":
			ruri = v
		}
	}); e != "" {
		return ambiguous(id, "invalid request: params.ref: "+e)
	}
	t, _ := DecodeString(body[typ.Start:typ.End])
	var target Span
	switch t {
	case "ref/prompt":
		target = rname
	case "ref/resource":
		// A URI template: matched literally, never normalized.
		target = ruri
	default:
		return invalidParams(id, `invalid params: params.ref.type must be "ref/prompt" or "ref/resource"`)
	}
	m.Action.Ref = t
	if target.Len() == 0 {
		return nil // no name or uri: no target, as for any other method
	}
	s, ok := DecodeString(body[target.Start:target.End])
	if !ok || s == "" {
		return stringError(body, target, id, "params.ref of type "+t+" needs a non-empty name or uri")
	}
	m.Action.Target, m.Action.HasTarget, m.TargetAt = s, true, target
	return nil
}

// readSubscriptions reads params.notifications of subscriptions/listen:
// every resource URI in resourceSubscriptions must be canonical. The
// list-changed opt-ins are read by the backend alone.
func (m *Message) readSubscriptions(body []byte, at Span, id []byte) *Error {
	if at.Len() == 0 {
		return nil
	}
	if body[at.Start] != '{' {
		return invalidParams(id, "invalid params: params.notifications must be an object")
	}
	var subs, taskIDs Span
	if e := strictObject(body, at.Start, func(key []byte, v Span) {
		switch string(key) {
		case "resourceSubscriptions":
			subs = v
		case "taskIds":
			taskIDs = v
		}
	}); e != "" {
		return ambiguous(id, "invalid request: params.notifications: "+e)
	}
	var err *Error
	if taskIDs.Len() > 0 {
		m.ListenTasks, err = listenArray(body, taskIDs, m.ListenTasks[:0], id, "taskIds must be an array of task ids", nil)
		if err != nil {
			return err
		}
	}
	if subs.Len() == 0 {
		return nil
	}
	m.Subscriptions, err = listenArray(body, subs, m.Subscriptions[:0], id, "resourceSubscriptions must be an array of resource URIs",
		func(s string) *Error {
			if s == "" {
				return invalidParams(id, "invalid params: resourceSubscriptions must be an array of resource URIs")
			}
			if why := URIProblem(s); why != "" {
				return notCanonical(id, "invalid params: resource URI "+why)
			}
			return nil
		})
	return err
}

// MaxListen bounds each array of a subscriptions/listen (its resource
// subscriptions, its task ids): every entry is judged or rewritten, so
// what one request costs stays proportional to a bound, not to the body.
const MaxListen = 1000

// listenArray appends the strings of the array at a to out, each checked
// by check when it is set; at most MaxListen of them.
func listenArray(body []byte, a Span, out []Field, id []byte, what string, check func(string) *Error) ([]Field, *Error) {
	if body[a.Start] != '[' {
		return out, invalidParams(id, "invalid params: "+what)
	}
	var err *Error
	walkArray(body, a.Start, func(v Span) bool {
		if len(out) == MaxListen {
			err = invalidParams(id, "invalid params: a subscriptions/listen array holds at most "+strconv.Itoa(MaxListen)+" entries")
			return false
		}
		s, ok := DecodeString(body[v.Start:v.End])
		if !ok {
			err = invalidParams(id, "invalid params: "+what)
			return false
		}
		if check != nil {
			if err = check(s); err != nil {
				return false
			}
		}
		out = append(out, Field{Value: s, At: v})
		return true
	})
	return out, err
}

// safeInteger reports whether a JSON number is an integer (no fraction or
// exponent) of at most 15 digits, well within ±2^53.
func safeInteger(n []byte) bool {
	if len(n) > 0 && n[0] == '-' {
		n = n[1:]
	}
	if len(n) == 0 || len(n) > 15 {
		return false
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

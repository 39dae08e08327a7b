package mcpauth

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"

	segjson "github.com/segmentio/encoding/json"
)

// JSON-RPC error codes used in refusals.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInvalidParams  = -32602

	// CodePermissionDenied is the JSON-RPC error code of a request that the
	// caller's roles do not allow. It lies in the implementation-defined
	// server-error range and avoids every code that MCP and its official
	// SDKs give a meaning: -32000, -32001 (TypeScript: connection closed,
	// request timeout), -32001..-32005 (Go SDK internals; -32003 is its
	// "client is closing"), -32002 (resource not found), -32020..-32022
	// (header mismatch, capabilities, protocol version), -32042 (URL
	// elicitation).
	CodePermissionDenied = -32030
)

// msgKind is what a JSON-RPC message is, decided from the fields present.
type msgKind uint8

const (
	kindRequest msgKind = iota + 1
	kindNotification
	kindResponse
)

// message is one classified JSON-RPC message.
type message struct {
	kind msgKind
	// id is the raw JSON of the id, byte for byte as the client sent it; nil
	// when the message has none.
	id     []byte
	action Action
}

// rpcError is a refusal of a body before any policy is consulted.
type rpcError struct {
	status int
	code   int
	msg    string
	id     []byte // raw id when known, else nil (rendered as null)
}

func (e *rpcError) Error() string { return e.msg }

func parseErr(msg string) *rpcError { return &rpcError{status: 400, code: codeParseError, msg: msg} }

func invalidReq(id []byte, msg string) *rpcError {
	return &rpcError{status: 400, code: codeInvalidRequest, msg: msg, id: id}
}

func invalidParams(id []byte, msg string) *rpcError {
	return &rpcError{status: 400, code: codeInvalidParams, msg: msg, id: id}
}

// protocolKeys are the keys whose case variants are refused wherever the
// classifier looks (the top level, params and params.ref): a backend whose
// JSON decoder matches keys case-insensitively (Go's encoding/json, for one)
// would read "Method" or "nAme" as the key we judged differently.
var protocolKeys = [...]string{"jsonrpc", "id", "method", "params", "result", "error", "name", "uri", "ref", "type"}

// classify parses a POST body strictly and returns its messages. batch
// reports whether the body was a JSON array. Nothing in the body is judged
// here; the caller hands each message's action to decide.
//
// Strictness: the body must be valid UTF-8 and valid JSON; each message an
// object with "jsonrpc":"2.0"; at the top level, in params and in
// params.ref no key may appear twice (after decoding escapes) and no key
// may equal a protocol key up to case only.
func classify(body []byte) (batch bool, msgs []message, err *rpcError) {
	if !utf8.Valid(body) {
		return false, nil, parseErr("parse error: body is not valid UTF-8")
	}
	if !validJSON(body) {
		return false, nil, parseErr("parse error: body is not valid JSON")
	}
	i := skipWS(body, 0)
	switch body[i] {
	case '{':
		m, _, err := parseMessage(body, i)
		if err != nil {
			return false, nil, err
		}
		return false, []message{m}, nil
	case '[':
		i = skipWS(body, i+1)
		if body[i] == ']' {
			return true, nil, invalidReq(nil, "invalid request: empty batch")
		}
		for {
			if body[i] != '{' {
				return true, nil, invalidReq(nil, "invalid request: batch element is not an object")
			}
			m, next, err := parseMessage(body, i)
			if err != nil {
				return true, nil, err
			}
			msgs = append(msgs, m)
			i = skipWS(body, next)
			if body[i] == ']' {
				return true, msgs, nil
			}
			i = skipWS(body, i+1) // ','
		}
	default:
		return false, nil, invalidReq(nil, "invalid request: not a JSON-RPC message")
	}
}

// validJSON checks the JSON grammar with segmentio/encoding's validator
// (the one the official Go MCP SDK decodes with; several times faster than
// encoding/json's), and bounds nesting at encoding/json's 10,000 levels.
func validJSON(b []byte) bool {
	return segjson.Valid(b) && nestingAtMost(b, 10000)
}

// nestingAtMost reports whether the (valid) JSON b nests at most max
// levels of arrays and objects.
func nestingAtMost(b []byte, max int) bool {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = skipString(b, i) - 1
		case '{', '[':
			depth++
			if depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
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

// parseMessage reads the object at body[i] (valid JSON guaranteed).
func parseMessage(body []byte, i int) (message, int, *rpcError) {
	var (
		m               message
		flags           int
		jsonrpc, method []byte
		params          []byte
		idFirst         byte
		idAmbiguous     bool // a duplicate or case variant of "id"
		dupErr          *rpcError
		seen            jsonKeySet
	)
	end := walkObject(body, i, func(key, val []byte) bool {
		if e := seen.add(key); e != "" {
			if dupErr == nil {
				dupErr = invalidReq(nil, "invalid request: "+e)
			}
			if strings.EqualFold(string(key), "id") {
				idAmbiguous = true
			}
			return true // read on: the id may come later
		}
		switch string(key) {
		case "jsonrpc":
			flags |= hasJSONRPC
			jsonrpc = val
		case "id":
			flags |= hasID
			m.id = val
			idFirst = val[0]
		case "method":
			flags |= hasMethod
			method = val
		case "params":
			flags |= hasParams
			params = val
		case "result":
			flags |= hasResult
		case "error":
			flags |= hasError
		}
		return true
	})
	if dupErr != nil {
		if flags&hasID != 0 && !idAmbiguous && (idFirst == '"' || idFirst == '-' || (idFirst >= '0' && idFirst <= '9')) {
			dupErr.id = m.id
		}
		return m, end, dupErr
	}
	// From here on the id is known well enough to echo, when it is a string
	// or an integer; an id of another type is not echoed.
	if flags&hasID != 0 && !(idFirst == '"' || idFirst == '-' || (idFirst >= '0' && idFirst <= '9')) {
		if !(idFirst == 'n' && flags&hasMethod == 0) { // null is allowed only in responses
			return m, end, invalidReq(nil, "invalid request: id must be a string or an integer")
		}
	}
	if flags&hasID != 0 && idFirst != '"' && idFirst != 'n' && !safeInteger(m.id) {
		// MCP ids are strings or integers. A fraction, an exponent or an
		// integer beyond ±2^53 is read differently by different decoders
		// (the Go SDK turns 1.5 into 1), so responses could be matched to
		// the wrong request.
		return m, end, invalidReq(nil, "invalid request: a numeric id must be an integer within ±2^53")
	}
	id := m.id
	if id != nil && id[0] == 'n' {
		id = nil
	}
	if flags&hasJSONRPC == 0 || !bytes.Equal(jsonrpc, []byte(`"2.0"`)) {
		return m, end, invalidReq(id, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if flags&hasMethod != 0 {
		if flags&(hasResult|hasError) != 0 {
			return m, end, invalidReq(id, "invalid request: a message cannot have both method and result or error")
		}
		name, ok := decodeString(method)
		if !ok || name == "" {
			return m, end, invalidReq(id, "invalid request: method must be a non-empty string")
		}
		m.action.Method = name
		if flags&hasID != 0 {
			m.kind = kindRequest
		} else {
			m.kind = kindNotification
		}
		if flags&hasParams != 0 && params[0] != '{' {
			return m, end, invalidReq(id, "invalid request: params must be an object")
		}
		if err := m.action.fillTarget(params, id); err != nil {
			return m, end, err
		}
		return m, end, nil
	}
	// No method: a response from the client to a server request.
	if flags&hasID == 0 || (flags&hasResult != 0) == (flags&hasError != 0) || flags&hasParams != 0 {
		return m, end, invalidReq(id, "invalid request: neither a request, a notification nor a response")
	}
	m.kind = kindResponse
	return m, end, nil
}

// fillTarget sets the target of the methods that have one, from params
// (nil when absent).
func (a *Action) fillTarget(params, id []byte) *rpcError {
	var field string
	switch a.Method {
	case "tools/call", "prompts/get":
		field = "name"
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		field = "uri"
	case "completion/complete":
		field = "ref"
	}
	var name, uri, ref []byte
	if params != nil {
		var seen jsonKeySet
		var dupErr *rpcError
		walkObject(params, 0, func(key, val []byte) bool {
			if e := seen.add(key); e != "" {
				dupErr = invalidReq(id, "invalid request: params: "+e)
				return false
			}
			switch string(key) {
			case "name":
				name = val
			case "uri":
				uri = val
			case "ref":
				ref = val
			}
			return true
		})
		if dupErr != nil {
			return dupErr
		}
	}
	switch field {
	case "":
		return nil
	case "name":
		s, ok := decodeString(name)
		if !ok || s == "" {
			return invalidParams(id, "invalid params: "+a.Method+" needs params.name, a non-empty string")
		}
		a.Target, a.HasTarget = s, true
	case "uri":
		s, ok := decodeString(uri)
		if !ok || s == "" {
			return invalidParams(id, "invalid params: "+a.Method+" needs params.uri, a non-empty string")
		}
		if why := uriNotNormal(s); why != "" {
			return invalidParams(id, "invalid params: resource URI is not in normal form ("+why+"); send it normalized (RFC 3986 section 6)")
		}
		a.Target, a.HasTarget = s, true
	case "ref":
		if ref == nil || ref[0] != '{' {
			return invalidParams(id, "invalid params: completion/complete needs params.ref, an object")
		}
		var typ, rname, ruri []byte
		var seen jsonKeySet
		var dupErr *rpcError
		walkObject(ref, 0, func(key, val []byte) bool {
			if e := seen.add(key); e != "" {
				dupErr = invalidReq(id, "invalid request: params.ref: "+e)
				return false
			}
			switch string(key) {
			case "type":
				typ = val
			case "name":
				rname = val
			case "uri":
				ruri = val
			}
			return true
		})
		if dupErr != nil {
			return dupErr
		}
		t, _ := decodeString(typ)
		var s string
		var ok bool
		switch t {
		case "ref/prompt":
			s, ok = decodeString(rname)
		case "ref/resource":
			// A URI template: matched literally, never normalized.
			s, ok = decodeString(ruri)
		default:
			return invalidParams(id, `invalid params: params.ref.type must be "ref/prompt" or "ref/resource"`)
		}
		if !ok || s == "" {
			return invalidParams(id, "invalid params: params.ref of type "+t+" needs a non-empty name or uri")
		}
		a.Ref, a.Target, a.HasTarget = t, s, true
	}
	return nil
}

// jsonKeySet records the keys of one object, to refuse duplicates and
// case variants of protocol keys. Small objects stay on the stack.
type jsonKeySet struct {
	small [8][]byte // slices of the body (or of a decoded key): no copies
	n     int
	big   map[string]struct{}
}

// add records key and returns a description of the problem, if any. key
// must stay unchanged while the set is in use.
func (k *jsonKeySet) add(key []byte) string {
	if mayFold(key) {
		for _, p := range protocolKeys {
			if len(key) <= 4*len(p) && string(key) != p && strings.EqualFold(string(key), p) {
				return "key " + quote(string(key)) + " differs from " + quote(p) + " only in case"
			}
		}
	}
	if k.big != nil {
		if _, dup := k.big[string(key)]; dup {
			return "duplicate key " + quote(string(key))
		}
		k.big[string(key)] = struct{}{}
		return ""
	}
	for _, s := range k.small[:k.n] {
		if bytes.Equal(s, key) {
			return "duplicate key " + quote(string(key))
		}
	}
	if k.n < len(k.small) {
		k.small[k.n] = key
		k.n++
		return ""
	}
	k.big = make(map[string]struct{}, 2*len(k.small))
	for _, s := range k.small {
		k.big[string(s)] = struct{}{}
	}
	k.big[string(key)] = struct{}{}
	return ""
}

// mayFold reports whether a key could equal a protocol key up to case
// without being it: only keys with an upper-case ASCII letter or a
// non-ASCII byte (Unicode folds such as U+017F to 's' or U+212A to 'k').
func mayFold(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return false
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// walkObject calls f with each key (escapes decoded) and raw value of the
// object at b[i], which must be valid JSON, and returns the index after
// it. f returns false to stop early.
func walkObject(b []byte, i int, f func(key, val []byte) bool) int {
	i = skipWS(b, i+1) // '{'
	if b[i] == '}' {
		return i + 1
	}
	for {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(b[i:kEnd], &s) // valid JSON: cannot fail
			key = []byte(s)
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // ':'
		vEnd := skipValue(b, i)
		if !f(key, b[i:vEnd]) {
			return vEnd
		}
		i = skipWS(b, vEnd)
		if b[i] == '}' {
			return i + 1
		}
		i = skipWS(b, i+1) // ','
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at b[i].
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return len(b)
		}
		j += q
		// The quote ends the string unless an odd run of backslashes
		// escapes it.
		n := 0
		for k := j - 1; k > i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the index after the JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j
			}
			j++
		}
		return j
	}
}

// decodeString decodes a raw JSON string value; ok is false when raw is
// absent or not a string.
func decodeString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// uriNotNormal returns why the URI is not already in the normal form of
// RFC 3986 section 6 (syntax-based normalization), or "" when it is. A URI
// that is not normalized is refused rather than matched, so that no two
// spellings of one resource can be judged differently. In addition,
// percent-encoded "/", "\" and NUL are refused in the path, since backends
// that decode before resolving a path would read them as separators.
func uriNotNormal(u string) string {
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte("\"<>\\^`{|}", c) >= 0 {
			return "character " + quote(string(rune(c))) + " must be percent-encoded"
		}
		if c == '%' {
			if i+2 >= len(u) || !isUpperHex(u[i+1]) || !isUpperHex(u[i+2]) {
				return "percent-encoding must be % and two upper-case hex digits"
			}
			v := unhex(u[i+1])<<4 | unhex(u[i+2])
			if isUnreserved(v) {
				return "percent-encoded unreserved character"
			}
		}
	}
	colon := strings.IndexByte(u, ':')
	if colon <= 0 {
		return "no scheme"
	}
	for i := 0; i < colon; i++ {
		c := u[i]
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		case c >= 'A' && c <= 'Z':
			return "scheme must be lower case"
		default:
			return "invalid scheme"
		}
	}
	rest := u[colon+1:]
	if end := strings.IndexAny(rest, "?#"); end >= 0 {
		rest = rest[:end]
	}
	path := rest
	if strings.HasPrefix(rest, "//") {
		auth := rest[2:]
		if end := strings.IndexByte(auth, '/'); end >= 0 {
			path = auth[end:]
			auth = auth[:end]
		} else {
			path = ""
		}
		host := auth[strings.LastIndexByte(auth, '@')+1:]
		if strings.HasSuffix(host, ":") {
			return "empty port"
		}
		if host != strings.ToLower(host) {
			return "host must be lower case"
		}
	}
	if strings.Contains(path, "//") {
		return "empty path segment"
	}
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return "dot segment in path"
		}
	}
	if strings.Contains(path, "%2F") || strings.Contains(path, "%5C") || strings.Contains(path, "%00") {
		return "percent-encoded separator or NUL in path"
	}
	return ""
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

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

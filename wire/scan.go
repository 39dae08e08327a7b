package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
	"unsafe"

	segjson "github.com/segmentio/encoding/json"
)

// The scanner functions below read JSON that ValidJSON has accepted: they
// never check the grammar again, only find where things are.

// Span is where a JSON value stands in a buffer: b[Start:End].
type Span struct{ Start, End int }

// Len is the span's length.
func (s Span) Len() int { return s.End - s.Start }

// ValidJSON checks the JSON grammar with segmentio/encoding's validator
// (the one the official Go MCP SDK decodes with; several times faster than
// encoding/json's), and bounds nesting at encoding/json's 10,000 levels.
// It accepts exactly what encoding/json.Valid accepts (FuzzValidJSON).
func ValidJSON(b []byte) bool {
	if !segjson.Valid(b) {
		return false
	}
	// Fewer than 10,000 opening brackets cannot nest deeper: the common
	// case is counted, not walked.
	if bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) <= 10000 {
		return true
	}
	return nestingAtMost(b, 10000)
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

// skipString returns the index after the string that starts at b[i],
// found with bytes.IndexByte (a byte loop for short strings measured
// slower: BenchmarkRewriteList500).
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

// structural marks the bytes skipValue stops at inside a container.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// skipValue returns the index after the JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			c := b[j]
			if !structural[c] {
				continue
			}
			switch c {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			default: // '}', ']'
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

// decodeTransient is DecodeString without a copy for a string without
// escapes: the result aliases raw and must not be kept.
func decodeTransient(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return unsafe.String(&raw[1], len(raw)-2), true
	}
	return DecodeString(raw)
}

// loneSurrogate reports whether a string's escapes hold a \uD800–\uDFFF
// that is not half of a high–low pair.
func loneSurrogate(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		i++ // the escaped byte: '\\' and '"' are consumed here too
		if i >= len(s) || s[i] != 'u' {
			continue
		}
		v, ok := hex4(s[i+1:])
		if !ok {
			continue
		}
		i += 4 // on the last hex digit
		switch {
		case v >= 0xDC00 && v <= 0xDFFF:
			return true
		case v >= 0xD800 && v <= 0xDBFF:
			if len(s) < i+7 || s[i+1] != '\\' || s[i+2] != 'u' {
				return true
			}
			w, ok := hex4(s[i+3:])
			if !ok || w < 0xDC00 || w > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

func hex4(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	v := 0
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// Quote renders s as a JSON string.
func Quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// AppendQuote appends s as a JSON string, escaped as encoding/json does.
func AppendQuote(b []byte, s string) []byte {
	if plainASCII(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return append(b, Quote(s)...)
}

// plainASCII reports whether s needs no escaping in a JSON string.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// keySet records the keys of one object, to refuse duplicates and case
// variants of the keys the module reads. Small objects stay on the stack.
type keySet struct {
	small [8][]byte // slices of the body (or of a decoded key): no copies
	n     int
	big   map[string]struct{}
}

// protocolKeys are the keys whose case variants are refused in every
// object the classifier (or the reply rewriter) reads: a backend whose JSON decoder matches keys
// case-insensitively (Go's encoding/json, for one) would read "Method" or
// "nAme" as the key that was judged differently.
var protocolKeys = [...]string{
	"jsonrpc", "id", "method", "params", "result", "error",
	"name", "uri", "ref", "type", "cursor", "taskId", "task", "_meta",
	"notifications", "resourceSubscriptions", "protocolVersion",
	"inputResponses", "requestState",
	MetaRelatedTask, MetaProtocolVersion,
	// Read in replies.
	"tools", "prompts", "resources", "resourceTemplates", "skills",
	"nextCursor", "cacheScope", "tasks", "uriTemplate", "taskIds",
}

// maxFoldKey bounds the keys compared by case folding: a Unicode fold
// is at most 3 bytes for one ASCII byte (U+212A KELVIN SIGN is 3 bytes).
const maxFoldKey = 4 * len(MetaProtocolVersion)

// add records key and returns a description of the problem, if any. key
// must stay unchanged while the set is in use.
func (k *keySet) add(key []byte) string {
	if len(key) <= maxFoldKey && mayFold(key) {
		for _, p := range protocolKeys {
			if len(key) <= 4*len(p) && string(key) != p && strings.EqualFold(string(key), p) {
				return "key " + Quote(string(key)) + " differs from " + Quote(p) + " only in case"
			}
		}
	}
	if k.big != nil {
		if _, dup := k.big[string(key)]; dup {
			return "duplicate key " + Quote(string(key))
		}
		k.big[string(key)] = struct{}{}
		return ""
	}
	for _, s := range k.small[:k.n] {
		if bytes.Equal(s, key) {
			return "duplicate key " + Quote(string(key))
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
// non-ASCII byte (Unicode folds such as U+017F to 's' or U+212A to 'k'),
// or the all-lower-case spelling of a protocol key written with capitals
// (taskid for taskId).
func mayFold(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return true
		}
	}
	return lowerOfMixed[string(key)]
}

// lowerOfMixed holds the lower-case forms of the protocol keys that have
// capitals.
var lowerOfMixed = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range protocolKeys {
		if l := strings.ToLower(p); l != p {
			m[l] = true
		}
	}
	return m
}()

// strictObject walks the object at b[i], refusing duplicate and
// case-variant keys, and calls f for each key. It returns the problem, or
// "".
func strictObject(b []byte, i int, f func(key []byte, v Span)) string {
	var seen keySet
	problem := ""
	walkObject(b, i, func(key []byte, v Span) bool {
		if p := seen.add(key); p != "" {
			problem = p
			return false
		}
		f(key, v)
		return true
	})
	return problem
}

// validUTF8 reports whether b is valid UTF-8.
func validUTF8(b []byte) bool { return utf8.Valid(b) }

// visitKeys walks the object at b[i] and calls f with each key (escapes
// decoded) and the start of its value; f returns the end of the value,
// having read it or skipped it, so that every byte is walked once, and
// whether to go on. It returns the end of the object, or of the value at
// which f stopped.
func visitKeys(b []byte, i int, f func(key []byte, vs int) (int, bool)) int {
	i = skipWS(b, i+1) // '{'
	if i >= len(b) || b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = decodeKey(b[i:kEnd])
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // ':'
		end, more := f(key, i)
		if !more {
			return end
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] == '}' {
			return i + 1
		}
		i = skipWS(b, i+1) // ','
	}
	return i
}

// visitObject is visitKeys with the key checks of keySet: it returns the
// first duplicate or case-variant key, if any (f is not called for that
// key or any after it), and always the end of the object.
func visitObject(b []byte, i int, f func(key []byte, vs int) int) (int, string) {
	var seen keySet
	problem := ""
	end := visitKeys(b, i, func(key []byte, vs int) (int, bool) {
		if problem == "" {
			problem = seen.add(key)
		}
		if problem != "" {
			return skipValue(b, vs), true
		}
		return f(key, vs), true
	})
	return end, problem
}

// walkObject calls f with each key and the span of its raw value; f
// returns false to stop early.
func walkObject(b []byte, i int, f func(key []byte, v Span) bool) int {
	return visitKeys(b, i, func(key []byte, vs int) (int, bool) {
		ve := skipValue(b, vs)
		return ve, f(key, Span{vs, ve})
	})
}

// visitArray walks the array at b[i] and calls f with the start of each
// element; f returns its end and whether to go on. It returns the end of
// the array, or of the element at which f stopped.
func visitArray(b []byte, i int, f func(vs int) (int, bool)) int {
	i = skipWS(b, i+1) // '['
	if i >= len(b) || b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		end, more := f(i)
		if !more {
			return end
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] == ']' {
			return i + 1
		}
		i = skipWS(b, i+1) // ','
	}
	return i
}

// walkArray calls f with the span of each element; f returns false to
// stop early.
func walkArray(b []byte, i int, f func(v Span) bool) int {
	return visitArray(b, i, func(vs int) (int, bool) {
		ve := skipValue(b, vs)
		return ve, f(Span{vs, ve})
	})
}

// decodeKey decodes a quoted key with escapes. Lone surrogates decode to
// U+FFFD, as in encoding/json.
func decodeKey(raw []byte) []byte {
	var s string
	_ = json.Unmarshal(raw, &s) // valid JSON: cannot fail
	return []byte(s)
}

// DecodeString decodes a raw JSON string value; ok is false when raw is
// absent, not a string, or holds an escaped lone surrogate (which
// JavaScript keeps as it is and Go turns into U+FFFD: two readings).
func DecodeString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	if loneSurrogate(inner) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

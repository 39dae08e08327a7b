package mcpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// listFamily is one kind of MCP list: the key of its items in a list
// result, the field naming each item, and the method whose permission an
// item needs to be shown.
type listFamily struct {
	key, field, useMethod string
}

// listFamilies are every list whose reply is filtered. A template is shown
// when its uriTemplate, read literally, matches the caller's resources/read
// rules: the same test that completion/complete applies to ref/resource.
var listFamilies = [...]listFamily{
	{"tools", "name", "tools/call"},
	{"prompts", "name", "prompts/get"},
	{"resources", "uri", "resources/read"},
	{"resourceTemplates", "uriTemplate", "resources/read"},
}

// listMethodUse maps a list method to the method that using one of its
// items needs.
func listMethodUse(method string) (string, bool) {
	switch method {
	case "tools/list":
		return "tools/call", true
	case "prompts/list":
		return "prompts/get", true
	case "resources/list", "resources/templates/list":
		return "resources/read", true
	}
	return "", false
}

// errUnfilterable is returned for a list reply that cannot be filtered
// safely; such a reply is refused, never passed on unfiltered.
var errUnfilterable = errors.New("list reply cannot be filtered")

// mayUse reports whether a caller with these roles may use the item, by the
// same decision function that judges requests.
func mayUse(roles []*compiledRole, method, item string) bool {
	return decide(roles, Action{Method: method, Target: item, HasTarget: true}).Allowed
}

// looksLikeList is a cheap pre-check before parsing a message.
func looksLikeList(msg []byte) bool {
	if !bytes.Contains(msg, []byte(`"result"`)) {
		return false
	}
	for _, f := range listFamilies {
		if bytes.Contains(msg, []byte(`"`+f.key+`"`)) {
			return true
		}
	}
	return false
}

// filterMessage filters a JSON-RPC message (or a batch of them) so that a
// list result holds only the items the caller may use. Everything else in
// the message (nextCursor, _meta, unknown fields, white space) is kept
// byte for byte. It returns msg itself when nothing is filtered out.
func filterMessage(msg []byte, roles []*compiledRole) ([]byte, error) {
	if !looksLikeList(msg) {
		return msg, nil
	}
	i := skipWS(msg, 0)
	if i >= len(msg) {
		return msg, nil
	}
	if !validJSON(msg) {
		return nil, errUnfilterable
	}
	switch msg[i] {
	case '{':
		return filterResponse(msg, roles)
	case '[':
		// A batch of responses: filter each; rebuild only when one changed.
		var elems [][]byte
		changed := false
		for i = skipWS(msg, i+1); i < len(msg) && msg[i] != ']'; {
			end := skipValue(msg, i)
			e := msg[i:end]
			if e[0] == '{' {
				f, err := filterResponse(e, roles)
				if err != nil {
					return nil, err
				}
				changed = changed || len(f) != len(e)
				e = f
			}
			elems = append(elems, e)
			i = skipWS(msg, end)
			if i < len(msg) && msg[i] == ',' {
				i = skipWS(msg, i+1)
			}
		}
		if !changed {
			return msg, nil
		}
		return append(append([]byte{'['}, bytes.Join(elems, []byte{','})...), ']'), nil
	}
	return msg, nil
}

// span is a value's place in a buffer.
type span struct{ start, end int }

// objectSpans returns the spans of the values of the object at b[i] whose
// keys equal want, and reports whether some key equals one of want up to
// case only or appears twice (then the object cannot be read unambiguously).
func objectSpans(b []byte, i int, want ...string) (map[string]span, bool) {
	found := map[string]span{}
	ambiguous := false
	walkObjectIdx(b, i, func(key []byte, vs, ve int) {
		for _, w := range want {
			if string(key) == w {
				if _, dup := found[w]; dup {
					ambiguous = true
				}
				found[w] = span{vs, ve}
			} else if strings.EqualFold(string(key), w) {
				ambiguous = true
			}
		}
	})
	return found, ambiguous
}

// filterResponse filters one JSON-RPC response object.
func filterResponse(msg []byte, roles []*compiledRole) ([]byte, error) {
	top, amb := objectSpans(msg, 0, "result", "method")
	if amb {
		return nil, errUnfilterable
	}
	res, ok := top["result"]
	if _, isReq := top["method"]; !ok || isReq || msg[res.start] != '{' {
		return msg, nil
	}
	keys := make([]string, len(listFamilies))
	for i, f := range listFamilies {
		keys[i] = f.key
	}
	lists, amb := objectSpans(msg, res.start, keys...)
	if amb {
		return nil, errUnfilterable
	}
	if len(lists) == 0 {
		return msg, nil
	}
	// Rewrite the lists from the last to the first, so that earlier spans
	// stay valid.
	out := msg
	changed := false
	for k := len(listFamilies) - 1; k >= 0; k-- {
		f := listFamilies[k]
		sp, ok := lists[f.key]
		if !ok {
			continue
		}
		if out[sp.start] != '[' {
			return nil, errUnfilterable
		}
		filtered, dropped, err := filterArray(out[sp.start:sp.end], f, roles)
		if err != nil {
			return nil, err
		}
		if !dropped {
			continue
		}
		if !changed {
			out = append([]byte(nil), msg...)
			changed = true
		}
		out = append(out[:sp.start], append(filtered, out[sp.end:]...)...)
	}
	return out, nil
}

// filterArray keeps the items of a JSON array that the caller may use;
// items that are not objects with a string in f.field are dropped.
func filterArray(arr []byte, f listFamily, roles []*compiledRole) ([]byte, bool, error) {
	var kept [][]byte
	dropped := false
	i := skipWS(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		item := arr[i:end]
		keep := false
		if item[0] == '{' {
			sp, amb := objectSpans(item, 0, f.field)
			if s, ok := sp[f.field]; ok && !amb {
				if name, ok := decodeString(item[s.start:s.end]); ok {
					keep = mayUse(roles, f.useMethod, name)
				}
			}
		}
		if keep {
			kept = append(kept, item)
		} else {
			dropped = true
		}
		i = skipWS(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipWS(arr, i+1)
		}
	}
	if !dropped {
		return arr, false, nil
	}
	return append(append([]byte{'['}, bytes.Join(kept, []byte{','})...), ']'), true, nil
}

// walkObjectIdx is walkObject with value offsets.
func walkObjectIdx(b []byte, i int, f func(key []byte, vs, ve int)) {
	i = skipWS(b, i+1)
	if i >= len(b) || b[i] == '}' {
		return
	}
	for i < len(b) {
		kEnd := skipString(b, i)
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(b[i:kEnd], &s)
			key = []byte(s)
		}
		i = skipWS(b, kEnd)
		i = skipWS(b, i+1) // ':'
		vEnd := skipValue(b, i)
		f(key, i, vEnd)
		i = skipWS(b, vEnd)
		if i >= len(b) || b[i] == '}' {
			return
		}
		i = skipWS(b, i+1) // ','
	}
}

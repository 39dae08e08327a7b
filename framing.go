package mcpauth

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// The HTTP-level half of the differential rule: a request reaches the
// backend only in a form that every backend reads the same way. Whatever
// a mainstream backend (the TypeScript SDK on express or node, the Go
// SDK) could read differently from the module is refused with a clear
// 4xx, never rewritten. The JSON-RPC half is wire.Classify.

// framing refuses HTTP framing that a backend (or Caddy's proxy on the
// way to it) could read differently from the module:
//   - Upgrade: a backend that accepts it gets a raw tunnel in which
//     nothing is judged (a 101 from upstream fails closed too);
//   - a Connection header naming anything but close, keep-alive and te:
//     every other token names a header that a proxy drops (the identity
//     headers the module sets, for one);
//   - a Trailer header: trailers reach the backend after the body that was
//     judged (and a trailer named Authorization or X-MCP-User undoes the
//     header guarantees);
//   - a Transfer-Encoding other than chunked;
//   - a body on GET, DELETE or OPTIONS, declared or not: only a POST body
//     is judged. A body of unknown length (HTTP/2 without END_STREAM) is
//     probed for one byte.
func (m *MCPAuth) framing(r *http.Request) *refusal {
	if len(r.Header.Values("Upgrade")) > 0 {
		return plainRefusal(http.StatusBadRequest, reasonUpgrade,
			"protocol upgrades are not allowed on an MCP endpoint (cleartext HTTP/2 upgrades included)")
	}
	for _, v := range r.Header.Values("Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.Trim(tok, " \t")) {
			case "", "close", "keep-alive", "te":
			default:
				return plainRefusal(http.StatusBadRequest, reasonHopByHop,
					"the Connection header may name only close, keep-alive and te")
			}
		}
	}
	// Go moves a declared Trailer of a chunked body into r.Trailer.
	if len(r.Header.Values("Trailer")) > 0 || len(r.Trailer) > 0 {
		return plainRefusal(http.StatusBadRequest, reasonTrailer, "request trailers are not allowed")
	}
	if len(r.TransferEncoding) > 1 || (len(r.TransferEncoding) == 1 && r.TransferEncoding[0] != "chunked") {
		return plainRefusal(http.StatusBadRequest, reasonEncoding, "the only transfer coding accepted is chunked")
	}
	if r.Method == http.MethodPost {
		return nil
	}
	if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
		return bodyNotAllowed(r)
	}
	if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
		var one [1]byte
		n, err := io.ReadFull(r.Body, one[:])
		if n > 0 {
			return bodyNotAllowed(r)
		}
		if !errors.Is(err, io.EOF) {
			rf := plainRefusal(http.StatusBadRequest, reasonUnreadable, "the request could not be read")
			rf.errCode = reasonInvalidRequest
			return rf
		}
		_ = r.Body.Close()
		r.Body, r.ContentLength = http.NoBody, 0
	}
	// Whatever trailers came with an empty body stay here.
	r.Trailer = nil
	return nil
}

func bodyNotAllowed(r *http.Request) *refusal {
	article := "a "
	if r.Method == http.MethodOptions {
		article = "an "
	}
	rf := plainRefusal(http.StatusBadRequest, reasonBodyNotAllowed, article+r.Method+" request to an MCP endpoint has no body")
	rf.errCode = reasonInvalidRequest
	return rf
}

// mediaType refuses a POST whose bytes a backend could decode differently:
// only application/json is accepted, with no parameter but charset=utf-8
// (any case, quoted or not); body-parser, which express.json() uses,
// decodes any other charset it knows (utf-7 and utf-16 among them), so a
// key the module reads as "+AG4-ame" would be "name" to the backend. Any
// Content-Encoding but identity is refused too (never decoded here, while
// body-parser inflates gzip, deflate and br).
func mediaType(r *http.Request) *refusal {
	cts := r.Header.Values("Content-Type")
	if len(cts) != 1 || !jsonMediaType(cts[0]) {
		return rpcRefusal(http.StatusUnsupportedMediaType, reasonMediaType, wire.CodeInvalidRequest, nil,
			"unsupported media type: a JSON-RPC message is sent as application/json, with no parameter but charset=utf-8")
	}
	if ce := r.Header.Values("Content-Encoding"); len(ce) > 1 || (len(ce) == 1 && !strings.EqualFold(strings.TrimSpace(ce[0]), "identity")) {
		return rpcRefusal(http.StatusUnsupportedMediaType, reasonEncoding, wire.CodeInvalidRequest, nil,
			"unsupported content encoding: send the JSON-RPC message uncompressed")
	}
	return nil
}

// jsonMediaType accepts exactly
//
//	application/json [OWS ";" OWS charset=(utf-8|"utf-8")]
//
// case-insensitively.
func jsonMediaType(v string) bool {
	const mt = "application/json"
	if len(v) < len(mt) || !strings.EqualFold(v[:len(mt)], mt) {
		return false
	}
	rest := strings.TrimLeft(v[len(mt):], " \t")
	if rest == "" {
		return true
	}
	if rest[0] != ';' {
		return false
	}
	k, val, ok := strings.Cut(strings.Trim(rest[1:], " \t"), "=")
	if !ok || !strings.EqualFold(k, "charset") {
		return false
	}
	if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
		val = val[1 : len(val)-1]
	}
	return strings.EqualFold(val, "utf-8")
}

func itoa(n int) string { return strconv.Itoa(n) }

func caddyhttpClientIP(r *http.Request) (string, bool) {
	ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip, ok && ip != ""
}

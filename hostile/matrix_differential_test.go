package hostile

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// The classes of the differential issue (#9): requests that a mainstream
// backend could read differently from the module. Each is refused with a
// 4xx and nothing forwarded, or, for the controls, forwarded exactly as
// judged.

// Bodies and headers shared by the differential and revision cases.
const (
	hdr26   = "MCP-Protocol-Version: 2026-07-28"
	meta26  = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	private = "file:///private/secrets.txt"
)

// rpc renders a request with id 1; params "" leaves params out.
func rpc(method, params string) string {
	if params == "" {
		return `{"jsonrpc":"2.0","id":1,"method":` + strconv.Quote(method) + `}`
	}
	return `{"jsonrpc":"2.0","id":1,"method":` + strconv.Quote(method) + `,"params":` + params + `}`
}

// uriParams is {"uri":u}, u as raw JSON string content.
func uriParams(u string) string { return `{"uri":"` + u + `"}` }

// listen is a 2026-07-28 subscriptions/listen with the given
// params.notifications (raw JSON).
func listen(notifications string) string {
	return rpc("subscriptions/listen", `{`+meta26+`,"notifications":`+notifications+`}`)
}

// noClose removes the Connection: close line build adds, for the cases
// whose Connection header is the subject.
func noClose(req []byte) []byte {
	return bytes.Replace(req, []byte("Connection: close\r\n"), nil, 1)
}

func utf32Body(s string, bigEndian bool) []byte {
	var out []byte
	for _, r := range s {
		u := uint32(r)
		if bigEndian {
			out = append(out, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
	}
	return out
}

func deflated(b []byte) []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.DefaultCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

func b64(s string) string { return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?=" }

// Checks on what reached the backend.

// noIdentityUpstream: the backend got one request without the credential
// or any spelling of the identity headers.
func noIdentityUpstream(t *testing.T, _ rawResult, up []seenRequest) {
	t.Helper()
	if len(up) != 1 {
		t.Fatalf("backend saw %d requests", len(up))
	}
	for k, vs := range up[0].Header {
		n := strings.ToLower(strings.NewReplacer("_", "-", ".", "-").Replace(k))
		if n == "x-mcp-user" || n == "x-mcp-roles" || n == "authorization" {
			t.Errorf("%s: %q reached the backend", k, vs)
		}
	}
}

// upstreamBody: the backend got exactly these bytes.
func upstreamBody(want string) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, _ rawResult, up []seenRequest) {
		t.Helper()
		if len(up) != 1 || string(up[0].Body) != want {
			var got []string
			for _, r := range up {
				got = append(got, string(r.Body))
			}
			t.Errorf("backend got %q, want exactly %q", got, want)
		}
	}
}

// upstreamLacks: the backend got one request, and s is nowhere in it.
func upstreamLacks(s string) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, _ rawResult, up []seenRequest) {
		t.Helper()
		if len(up) != 1 {
			t.Fatalf("backend saw %d requests", len(up))
		}
		if bytes.Contains(up[0].Body, []byte(s)) {
			t.Errorf("%q reached the backend in the body %s", s, up[0].Body)
		}
		for k, vs := range up[0].Header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					t.Errorf("%q reached the backend in %s: %q", s, k, v)
				}
			}
		}
	}
}

// upstreamHeader: the backend got the header with exactly these values.
func upstreamHeader(name string, want ...string) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, _ rawResult, up []seenRequest) {
		t.Helper()
		if len(up) != 1 {
			t.Fatalf("backend saw %d requests", len(up))
		}
		if got := up[0].Header.Values(name); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("%s upstream = %q, want %q", name, got, want)
		}
	}
}

// answerMentions: the refusal names what was refused (and its code).
func answerMentions(parts ...string) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, res rawResult, _ []seenRequest) {
		t.Helper()
		for _, p := range parts {
			if !bytes.Contains(res.body, []byte(p)) {
				t.Errorf("answer %q does not mention %q", truncateBody(res.body), p)
			}
		}
	}
}

// answerAtMost bounds the answer's size.
func answerAtMost(n int) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, res rawResult, _ []seenRequest) {
		t.Helper()
		if len(res.body) > n {
			t.Errorf("answer of %d bytes, want at most %d", len(res.body), n)
		}
	}
}

func allChecks(fs ...func(*testing.T, rawResult, []seenRequest)) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, res rawResult, up []seenRequest) {
		t.Helper()
		for _, f := range fs {
			f(t, res, up)
		}
	}
}

func truncateBody(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func differentialCases() []hcase {
	echo := call("echo")
	eb := []byte(echo)
	var cases []hcase
	add := func(c hcase) { cases = append(cases, c) }

	// ---- charset: only application/json [; charset=utf-8] (as bob, who may call echo, not delete_*) ----
	utf7Name := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","+AG4-ame":"delete_all"}}`
	cs := func(name, ct string, body []byte, want int, fwd bool, note string) {
		by := byModule
		if fwd {
			by = byCaddy
		}
		add(hcase{class: "charset", name: name, req: build("POST", "/mcp", hdrs{auth(bobTok), "Content-Type: " + ct}, body), want: want, by: by, forwarded: fwd, note: note})
	}
	cs("charset=utf-7 smuggling a second name", "application/json; charset=utf-7", []byte(utf7Name), 415, false,
		`body-parser decodes UTF-7: "+AG4-ame" is "name", the last duplicate wins, and delete_all runs`)
	cs("charset=utf-7 smuggling the method", "application/json; charset=utf-7",
		[]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list","+AG0-ethod":"tools/call","params":{"name":"delete_all"}}`), 415, false, "")
	cs("charset=UTF-7 (upper case)", "application/json; charset=UTF-7", []byte(utf7Name), 415, false, "")
	cs("charset=utf-7-imap", "application/json; charset=utf-7-imap", eb, 415, false, "iconv-lite knows it")
	cs("charset=utf-16le, UTF-16LE body", "application/json; charset=utf-16le", utf16Body(echo, false, false), 415, false, "")
	cs("charset=utf-16le, UTF-8 body", "application/json; charset=utf-16le", eb, 415, false, "the issue's example: was forwarded")
	cs("charset=utf-16be, UTF-16BE body", "application/json; charset=utf-16be", utf16Body(echo, true, false), 415, false, "")
	cs("charset=utf-16, UTF-16 body with BOM", "application/json; charset=utf-16", utf16Body(echo, false, true), 415, false, "")
	cs("charset=utf-32, UTF-32BE body", "application/json; charset=utf-32", utf32Body(echo, true), 415, false, "")
	cs("charset=utf-32le, UTF-32LE body", "application/json; charset=utf-32le", utf32Body(echo, false), 415, false, "")
	cs("charset=utf8 (no hyphen)", "application/json; charset=utf8", eb, 415, false, "the one spelling accepted is utf-8")
	cs("charset=latin1", "application/json; charset=latin1", eb, 415, false, "")
	cs("charset=utf-8 then charset=utf-7", "application/json; charset=utf-8; charset=utf-7", eb, 415, false, "a second charset parameter")
	cs("charset=utf-7 then charset=utf-8", "application/json; charset=utf-7; charset=utf-8", eb, 415, false, "body-parser takes the first")
	cs("charset=utf-8 twice", "application/json; charset=utf-8; charset=utf-8", eb, 415, false, "")
	cs("charset=utf-8 and boundary", "application/json; charset=utf-8; boundary=x", eb, 415, false, "no parameter but charset")
	cs("parameter profile", `application/json; profile="https://example.com/p"`, eb, 415, false, "")
	cs("parameter version=1", "application/json; version=1", eb, 415, false, "")
	cs("trailing semicolon", "application/json;", eb, 415, false, "accepted by content-type 2.x, not here")
	cs("charset=utf-8 and a trailing semicolon", "application/json; charset=utf-8;", eb, 415, false, "")
	cs("double semicolon", "application/json;;charset=utf-8", eb, 415, false, "")
	cs("empty charset", "application/json; charset=", eb, 415, false, "")
	cs("charset with an unbalanced quote", `application/json; charset="utf-8`, eb, 415, false, "")
	cs("spaces around =", "application/json; charset = utf-8", eb, 415, false, "")
	cs("application/vnd.api+json", "application/vnd.api+json", eb, 415, false, "no +json type is accepted")
	cs("text/json", "text/json", eb, 415, false, "")
	cs("charset=UTF-8 (control)", "application/json; charset=UTF-8", eb, 200, true, "any case")
	cs(`charset="utf-8" quoted (control)`, `application/json; charset="utf-8"`, eb, 200, true, "quoted or not")
	cs(`Charset="UTF-8" (control)`, `application/json; Charset="UTF-8"`, eb, 200, true, "")
	cs("no space before charset (control)", "application/json;charset=utf-8", eb, 200, true, "")
	cs("space before the semicolon (control)", "application/json ; charset=utf-8", eb, 200, true, "")
	cs("Application/Json (control)", "Application/Json", eb, 200, true, "")

	// ---- Content-Encoding: never decoded, so only identity (as alice) ----
	ce := func(name string, h hdrs, body []byte, want int, fwd bool, note string) {
		by := byModule
		if fwd {
			by = byCaddy
		}
		add(hcase{class: "content-encoding", name: name, req: build("POST", "/mcp", append(hdrs{auth(aliceTok), ctJSON}, h...), body),
			want: want, by: by, forwarded: fwd, note: note})
	}
	ce("gzip, plain JSON body", hdrs{"Content-Encoding: gzip"}, eb, 415, false, "the module reads the bytes, body-parser would gunzip them")
	ce("deflate, deflated body", hdrs{"Content-Encoding: deflate"}, deflated(eb), 415, false, "")
	ce("br", hdrs{"Content-Encoding: br"}, eb, 415, false, "body-parser inflates br too")
	ce("x-gzip", hdrs{"Content-Encoding: x-gzip"}, gz(eb), 415, false, "")
	ce("zstd", hdrs{"Content-Encoding: zstd"}, eb, 415, false, "")
	ce("compress", hdrs{"Content-Encoding: compress"}, eb, 415, false, "")
	ce("gzip, identity (one field)", hdrs{"Content-Encoding: gzip, identity"}, gz(eb), 415, false, "")
	ce("identity, identity (one field)", hdrs{"Content-Encoding: identity, identity"}, eb, 415, false, "a list is refused")
	ce("two Content-Encoding headers, both identity", hdrs{"Content-Encoding: identity", "Content-Encoding: identity"}, eb, 415, false, "")
	ce("two Content-Encoding headers, gzip first", hdrs{"Content-Encoding: gzip", "Content-Encoding: identity"}, gz(eb), 415, false, "")
	ce("identity;q=1", hdrs{"Content-Encoding: identity;q=1"}, eb, 415, false, "")
	ce("empty Content-Encoding", hdrs{"Content-Encoding: "}, eb, 415, false, "refused, though body-parser reads an empty value as identity")
	ce("IDENTITY (control)", hdrs{"Content-Encoding: IDENTITY"}, eb, 200, true, "case-insensitive")
	add(hcase{class: "content-encoding", name: "identity (control), body byte for byte", req: postAs(aliceTok, echo, "Content-Encoding: identity"), want: 200, by: byCaddy, forwarded: true,
		check: upstreamBody(echo)})

	// ---- Transfer-Encoding: what Go lets through reaches the module as chunked ----
	te := func(name string, req []byte, want int, by string, fwd bool, note string) {
		add(hcase{class: "transfer-encoding", name: name, req: req, want: want, by: by, forwarded: fwd, note: note})
	}
	teReq := func(teValue string, body []byte) []byte {
		return build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Transfer-Encoding: " + teValue}, body)
	}
	te("CHUNKED (upper case, control)", teReq("CHUNKED", chunked(eb, 9)), 200, byCaddy, true, "Go reads it as chunked; the module judges the decoded body")
	te("chunk extensions (control)", build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Transfer-Encoding: chunked"},
		[]byte(fmt.Sprintf("%x;ext=1\r\n%s\r\n0;last\r\n\r\n", len(eb), eb))), 200, byCaddy, true, "extensions are dropped by Go")
	add(hcase{class: "transfer-encoding", name: "chunked (control): forwarded with Content-Length, byte for byte", req: teReq("chunked", chunked(eb, 5)),
		want: 200, by: byCaddy, forwarded: true, check: allChecks(upstreamBody(echo), func(t *testing.T, _ rawResult, up []seenRequest) {
			if len(up) == 1 && up[0].Header.Get("Content-Length") != strconv.Itoa(len(eb)) {
				t.Errorf("backend got Content-Length %q, want %d", up[0].Header.Get("Content-Length"), len(eb))
			}
		})})
	te("two Transfer-Encoding: chunked lines", build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"}, chunked(eb, 9)),
		501, byGo, false, "Go: one coding only")
	te("chunked, chunked (one field)", teReq("chunked, chunked", chunked(eb, 9)), 501, byGo, false, "")
	te("identity", teReq("identity", eb), 501, byGo, false, "")
	te("gzip", teReq("gzip", gz(eb)), 501, byGo, false, "")
	te("xchunked", teReq("xchunked", chunked(eb, 9)), 501, byGo, false, "")
	http10 := func(extra string, body []byte) []byte {
		return []byte("POST /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\n" + auth(aliceTok) + "\r\n" + ctJSON + "\r\n" + extra +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
	}
	te("HTTP/1.0 with Transfer-Encoding: chunked (control)", http10("Transfer-Encoding: chunked\r\n", eb), 200, byCaddy, true,
		"Go ignores Transfer-Encoding on HTTP/1.0 and reads Content-Length: the body judged is the body forwarded")
	te("HTTP/1.0, chunk framing inside Content-Length", http10("Transfer-Encoding: chunked\r\n", chunked(eb, 9)), 400, byModule, false,
		"the framing bytes are the body: not JSON (-32700)")

	// ---- Upgrade: refused on every method, before any credential ----
	ws := hdrs{"Upgrade: websocket", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"}
	h2c := hdrs{"Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"}
	up := func(name, method string, h hdrs, body []byte, note string) {
		add(hcase{class: "upgrade", name: name, req: noClose(build(method, "/mcp", h, body)), method: method, want: 400, by: byModule, note: note,
			check: answerMentions(`"upgrade"`)})
	}
	up("GET websocket handshake", "GET", append(hdrs{auth(aliceTok), "Connection: Upgrade"}, ws...), nil, "a backend that accepts it gets a tunnel nothing judges")
	up("POST websocket with a JSON body", "POST", append(hdrs{auth(aliceTok), ctJSON, "Connection: Upgrade"}, ws...), eb, "")
	up("GET websocket without a credential", "GET", append(hdrs{"Connection: Upgrade"}, ws...), nil, "refused before the credential is asked for")
	up("GET h2c upgrade (cleartext curl --http2)", "GET", append(hdrs{auth(aliceTok), "Connection: Upgrade, HTTP2-Settings"}, h2c...), nil,
		"what cleartext `curl --http2` sends: refused (Caddy serves no h2c by default, so no 101 either); use TLS or --http2-prior-knowledge")
	up("POST h2c upgrade (cleartext curl --http2)", "POST", append(hdrs{auth(aliceTok), ctJSON, "Connection: Upgrade, HTTP2-Settings"}, h2c...), eb, "")
	up("Upgrade: h2c without Connection", "POST", hdrs{auth(aliceTok), ctJSON, "Connection: close", "Upgrade: h2c"}, eb, "any Upgrade header")
	up("Upgrade: TLS/1.0", "POST", hdrs{auth(aliceTok), ctJSON, "Connection: close", "Upgrade: TLS/1.0"}, eb, "")
	up("empty Upgrade header", "POST", hdrs{auth(aliceTok), ctJSON, "Connection: close", "Upgrade: "}, eb, "")
	up("lower-case upgrade: websocket", "POST", hdrs{auth(aliceTok), ctJSON, "Connection: close", "upgrade: websocket"}, eb, "")
	up("DELETE with Upgrade", "DELETE", hdrs{auth(aliceTok), "Connection: close", "Upgrade: websocket"}, nil, "")
	up("CORS preflight with Upgrade", "OPTIONS", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST", "Connection: close", "Upgrade: websocket"}, nil,
		"no longer a preflight: refused, not passed on")

	// ---- Connection: only close, keep-alive and te, across all lines ----
	conn := func(name, method string, h hdrs, body []byte, note string) {
		add(hcase{class: "connection", name: name, req: noClose(build(method, "/mcp", h, body)), method: method, want: 400, by: byModule, note: note,
			check: answerMentions(`"hop_by_hop_header"`)})
	}
	connPost := func(name string, lines hdrs, note string) {
		conn(name, "POST", append(hdrs{auth(aliceTok), ctJSON}, lines...), eb, note)
	}
	connPost("Connection: X-MCP-User", hdrs{"Connection: X-MCP-User"}, "Caddy's proxy would drop the identity header the module sets")
	connPost("Connection: X-MCP-Roles", hdrs{"Connection: X-MCP-Roles"}, "")
	connPost("Connection: x-mcp-user, x-mcp-roles (lower case)", hdrs{"Connection: x-mcp-user, x-mcp-roles"}, "")
	connPost("Connection: Authorization", hdrs{"Connection: Authorization"}, "")
	connPost("Connection: Mcp-Protocol-Version", hdrs{"Connection: Mcp-Protocol-Version"}, "the backend would judge another revision")
	connPost("Connection: Mcp-Session-Id", hdrs{"Connection: Mcp-Session-Id"}, "")
	connPost("Connection: Mcp-Name", hdrs{"Connection: Mcp-Name"}, "")
	connPost("Connection: Content-Type", hdrs{"Connection: Content-Type"}, "")
	connPost("Connection: upgrade (no Upgrade header)", hdrs{"Connection: upgrade"}, "")
	connPost("Connection: HTTP2-Settings", hdrs{"Connection: HTTP2-Settings"}, "")
	connPost("close, X-MCP-User (mixed)", hdrs{"Connection: close, X-MCP-User"}, "one bad token in a list")
	connPost("keep-alive,X-MCP-User (no space)", hdrs{"Connection: keep-alive,X-MCP-User"}, "")
	connPost("two Connection lines, the second naming X-MCP-Roles", hdrs{"Connection: keep-alive", "Connection: X-MCP-Roles"}, "every line counts")
	connPost("three lines, the last naming Authorization", hdrs{"Connection: close", "Connection: te", "Connection: Authorization"}, "")
	connPost(`quoted "close"`, hdrs{`Connection: "close"`}, "a quoted string is no token")
	connPost("close;q=1", hdrs{"Connection: close;q=1"}, "")
	conn("GET with Connection: X-MCP-User", "GET", hdrs{auth(bobTok), "Accept: text/event-stream", "Connection: X-MCP-User"}, nil, "")
	conn("Connection: X-MCP-User without a credential", "POST", hdrs{ctJSON, "Connection: X-MCP-User"}, eb, "refused before the credential is asked for")
	conn("CORS preflight with Connection: X-MCP-User", "OPTIONS", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST", "Connection: X-MCP-User"}, nil,
		"no longer a preflight")
	connOK := func(name string, lines hdrs, note string) {
		add(hcase{class: "connection", name: name, req: noClose(build("POST", "/mcp", append(hdrs{auth(bobTok), ctJSON}, lines...), eb)), want: 200, by: byCaddy, forwarded: true,
			note: note, check: upstreamIdentity("token:bob", "reader")})
	}
	connOK("Connection: Close (control)", hdrs{"Connection: Close"}, "tokens are case-insensitive; the identity headers arrive")
	connOK("Connection: KEEP-ALIVE, close (control)", hdrs{"Connection: KEEP-ALIVE, close"}, "")
	connOK("empty list elements (control)", hdrs{"Connection: close, , keep-alive,"}, "empty elements are ignored (RFC 9110 §5.6.1)")
	connOK("only commas (control)", hdrs{"Connection: ,", "Connection: close"}, "")
	connOK("te with TE: trailers (control)", hdrs{"Connection: te, close", "TE: trailers"}, "")
	connOK("three lines close, keep-alive, te (control)", hdrs{"Connection: close", "Connection: keep-alive", "Connection: TE"}, "")

	// ---- trailers: a Trailer header is refused; chunked trailers never reach the backend ----
	tbody := chunked(eb, 16)
	tbodyBob := chunked([]byte(call("echo")), 16)
	trl := func(name string, req []byte, want int, by string, fwd bool, note string, check func(*testing.T, rawResult, []seenRequest)) {
		add(hcase{class: "trailer", name: name, req: req, want: want, by: by, forwarded: fwd, note: note, check: check})
	}
	trl("Trailer: Authorization on a Content-Length body", build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Trailer: Authorization"}, eb), 400, byModule, false,
		"", answerMentions(`"trailer"`))
	trl("Trailer: X-MCP-User on a GET", build("GET", "/mcp", hdrs{auth(bobTok), "Accept: text/event-stream", "Trailer: X-MCP-User"}, nil), 400, byModule, false, "", nil)
	trl("Trailer: X-MCP-Roles on a DELETE", build("DELETE", "/mcp", hdrs{auth(bobTok), "Trailer: X-MCP-Roles"}, nil), 400, byModule, false, "", nil)
	trl("Trailer: Expires on a preflight", build("OPTIONS", "/mcp", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST", "Trailer: Expires"}, nil),
		400, byModule, false, "any declared trailer", nil)
	// Go moves a Trailer header into r.Trailer when the body is chunked.
	trl("Trailer: X-MCP-User declared on a chunked body, trailer sent",
		build("POST", "/mcp", hdrs{auth(bobTok), ctJSON, "Trailer: X-MCP-User", "Transfer-Encoding: chunked"}, withTrailers(tbodyBob, "X-MCP-User: token:alice")),
		400, byModule, false, "Go moves the Trailer header into r.Trailer for a chunked body: refused from there", nil)
	trl("undeclared chunked trailer Authorization (alice's token, sent as bob)",
		build("POST", "/mcp", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"}, withTrailers(tbodyBob, auth(aliceTok))),
		200, byCaddy, true, "Go merges undeclared trailers too; they are dropped once the body is read: the backend sees neither trailer nor token",
		upstreamIdentity("token:bob", "reader"))
	trl("undeclared chunked trailers X-MCP-User and X-MCP-Roles",
		build("POST", "/mcp", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"}, withTrailers(tbodyBob, "X-MCP-User: token:alice", "X-MCP-Roles: admin")),
		200, byCaddy, true, "", upstreamIdentity("token:bob", "reader"))
	trl("undeclared trailers MCP-Protocol-Version and Mcp-Session-Id",
		build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Transfer-Encoding: chunked"}, withTrailers(tbody, hdr26, "Mcp-Session-Id: forged")),
		200, byCaddy, true, "", func(t *testing.T, _ rawResult, up []seenRequest) {
			if len(up) == 1 && (up[0].Header.Get("Mcp-Protocol-Version") != "" || up[0].Header.Get("Mcp-Session-Id") != "") {
				t.Errorf("a trailer became a header upstream: %v", up[0].Header)
			}
		})
	trl("trailer on a denied call", build("POST", "/mcp", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"},
		withTrailers(chunked([]byte(call("delete_all")), 16), "X-MCP-Roles: admin")), 403, byModule, false, "trailers grant nothing", nil)
	trl("empty chunked GET body with an Authorization trailer", build("GET", "/mcp", hdrs{auth(bobTok), "Transfer-Encoding: chunked"}, withTrailers([]byte("0\r\n\r\n"), auth(aliceTok))),
		400, byModule, false, "a GET has no body, not even an empty chunked one", nil)

	// ---- bodies on GET, DELETE, OPTIONS (HTTP/1.1 framing) ----
	bd := func(name, method string, h hdrs, body []byte, want int, by string, fwd bool, note string) {
		add(hcase{class: "body", name: name, req: build(method, "/mcp", h, body), method: method, want: want, by: by, forwarded: fwd, note: note})
	}
	denied := []byte(call("delete_all"))
	bd("GET, chunked JSON body", "GET", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"}, chunked(denied, 8), 400, byModule, false, "only POST bodies are judged")
	bd("GET, empty chunked body", "GET", hdrs{auth(bobTok), "Transfer-Encoding: chunked"}, []byte("0\r\n\r\n"), 400, byModule, false, "chunked at all is a body")
	bd("DELETE, chunked JSON body", "DELETE", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"}, chunked(denied, 8), 400, byModule, false, "")
	bd("DELETE, empty chunked body", "DELETE", hdrs{auth(bobTok), "Transfer-Encoding: chunked"}, []byte("0\r\n\r\n"), 400, byModule, false, "")
	bd("OPTIONS with a credential, chunked body", "OPTIONS", hdrs{auth(bobTok), ctJSON, "Transfer-Encoding: chunked"}, chunked(denied, 8), 400, byModule, false, "")
	bd("CORS preflight, chunked body", "OPTIONS", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST", ctJSON, "Transfer-Encoding: chunked"},
		chunked(denied, 8), 400, byModule, false, "a body makes it no preflight")
	bd("GET, Content-Length: 1", "GET", hdrs{auth(bobTok), "Content-Length: 1"}, []byte("{"), 400, byModule, false, "")
	bd("GET, Content-Length: 0 (control)", "GET", hdrs{auth(bobTok), "Content-Length: 0"}, nil, 200, byCaddy, true, "")
	bd("DELETE, Content-Length: 0 (control)", "DELETE", hdrs{auth(bobTok), "Content-Length: 0"}, nil, 200, byCaddy, true, "")
	bd("OPTIONS with a credential, no body (control)", "OPTIONS", hdrs{auth(bobTok)}, nil, 200, byCaddy, true, "")
	add(hcase{class: "body", name: "GET followed by unframed bytes (control)", method: "GET",
		req: append(build("GET", "/mcp", hdrs{auth(bobTok)}, nil), denied...), want: 200, by: byCaddy, forwarded: true,
		note:  "without Content-Length or chunked a GET has no body: the bytes are a next request, never read (Connection: close)",
		check: upstreamBody("")})

	// ---- CORS preflight: forwarded without credential or identity ----
	pre := hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST"}
	pf := func(name string, h hdrs, note string) {
		add(hcase{class: "preflight", name: name, req: build("OPTIONS", "/mcp", append(append(hdrs{}, pre...), h...), nil), method: "OPTIONS",
			want: 200, by: byCaddy, forwarded: true, note: note, check: noIdentityUpstream})
	}
	pf("forged X-MCP-User, X-MCP-Roles and Authorization", hdrs{"X-MCP-User: token:alice", "X-MCP-Roles: admin", auth(aliceTok)},
		"the backend answers the preflight; every credential and identity header is removed first")
	pf("forged identity in other spellings", hdrs{"x-mcp-user: token:alice", "X-Mcp_User: token:alice", "X-MCP.Roles: admin"}, "")
	pf("unknown token", hdrs{auth("not-a-token")}, "no credential is checked on a preflight, and none passes")
	pf("two Authorization headers", hdrs{auth(bobTok), auth(aliceTok)}, "")
	pf("Access-Control-Request-Headers naming them", hdrs{"Access-Control-Request-Headers: authorization, x-mcp-user, mcp-protocol-version", auth(bobTok)}, "")
	pf("Content-Length: 0", hdrs{"Content-Length: 0", "X-MCP-Roles: admin"}, "an empty body is no body")

	// ---- batches: at most 100 messages ----
	bt := func(name, body string, note string, check func(*testing.T, rawResult, []seenRequest)) {
		add(hcase{class: "batch", name: name, req: postAs(bobTok, body), want: 400, by: byModule, note: note, check: check})
	}
	bound := answerMentions(`"code":-32600`, "at most 100")
	bt("101 pings", pingBatch(101, ""), "over the bound: nothing judged, nothing forwarded", bound)
	bt("101 elements, the last a denied call", pingBatch(101, `{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"delete_all"}}`), "", bound)
	bt("101 notifications", "["+strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}},`, 100)+
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}]`, "", bound)
	bt("101 client responses", "["+strings.Repeat(`{"jsonrpc":"2.0","id":"s","result":{}},`, 100)+`{"jsonrpc":"2.0","id":"s","result":{}}]`, "", bound)
	bt("10,000 denied calls", "["+strings.Repeat(call("delete_all")+",", 9999)+call("delete_all")+"]",
		"one small answer, one audit entry: no amplification", allChecks(bound, answerAtMost(512)))
	bt("101 pings, spaced and on separate lines", "[\n "+strings.ReplaceAll(strings.Trim(pingBatch(101, ""), "[]"), "},{", "} ,\n {")+"\n]", "", bound)
	add(hcase{class: "batch", name: "two requests with the same id", req: postAs(bobTok, `[`+call("echo")+`,`+call("get_time")+`]`), want: 400, by: byModule,
		note: "refused: the TypeScript SDK runs both and answers the first only, the Go SDK runs the first"})

	return cases
}

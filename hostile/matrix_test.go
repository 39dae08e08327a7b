package hostile

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

// Tokens of the matrix's config.
const (
	aliceTok = "alice-hostile-token-7c1e0b52" // role admin: everything but delete_*
	bobTok   = "bob-hostile-token-93d4f6a8"   // role reader: echo, get_*, tools/list, file:///docs/*
)

// matrixSite is the config under attack. deny_with status makes a denied
// call a 403 (the default, jsonrpc, answers 200 with a JSON-RPC error, so
// a status would not tell refusals apart); the rest is the default. The
// /strict route is the same with min_protocol_version 2026-07-28.
const matrixSite = `http://:{PORT} {
	handle /strict/* {
		mcp_auth {
			{AUTH}
			min_protocol_version 2026-07-28
		}
		reverse_proxy {BACKEND}
	}
	handle {
		mcp_auth {
			{AUTH}
		}
		reverse_proxy {BACKEND}
	}
}
`

// matrixAuth is the body of both mcp_auth blocks.
const matrixAuth = `token alice ` + aliceTok + ` admin
			token bob   ` + bobTok + `   reader
			role admin {
				allow *
				deny  tools/call delete_*
			}
			role reader {
				allow tools/list
				allow tools/call echo get_*
				allow resources/read file:///docs/* skill://docs/*
				allow resources/subscribe file:///docs/*
				allow resources/unsubscribe file:///docs/*
			}
			deny_with       status
			identity_header X-MCP-User
			roles_header    X-MCP-Roles
			allowed_origins http://good.example`

// matrixGlobal bounds the time a request body may take: without it Caddy
// (and Go) wait for a trickling body as long as bytes keep coming.
// max_header_size is raised from Caddy's 16 KiB so that a 64 KiB token
// reaches the module (with the default, Go answers 431 itself).
const matrixGlobal = `	servers {
		timeouts {
			read_body 2s
		}
		max_header_size 256KiB
	}
`

// Who answers a refusal.
const (
	byModule = "mcp_auth" // JSON body
	byGo     = "Go"       // Go's HTTP server, plain text, before any handler
	byCaddy  = "backend"  // forwarded: the backend's answer
)

type hcase struct {
	class string
	name  string
	// req is the raw request; write, when set, sends it instead (slow
	// bodies). method tells the response reader about HEAD.
	req    []byte
	write  func(net.Conn) error
	method string

	want      int    // expected final status
	by        string // byModule, byGo or byCaddy (forwarded)
	forwarded bool   // the backend must see exactly this request
	note      string // why, for MATRIX.md
	finding   bool   // a finding reported against the module (see note)
	stream    bool   // an SSE stream: only its head is read
	check     func(t *testing.T, res rawResult, up []seenRequest)
}

// Request builders. Every request closes its connection, so one case
// cannot leak into the next.

type hdrs []string

func auth(tok string) string { return "Authorization: Bearer " + tok }

const ctJSON = "Content-Type: application/json"

// build renders a request with Host, Connection: close and, unless a
// Transfer-Encoding or Content-Length header is given, Content-Length.
func build(method, target string, h hdrs, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, target)
	explicit := false
	for _, line := range h {
		l := strings.ToLower(line)
		if strings.HasPrefix(l, "transfer-encoding:") || strings.HasPrefix(l, "content-length:") {
			explicit = true
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	if !explicit && (body != nil || method == "POST") {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

func post(h hdrs, body string) []byte { return build("POST", "/mcp", h, []byte(body)) }

// postAs POSTs a JSON body with a bearer token.
func postAs(tok, body string, more ...string) []byte {
	return post(append(hdrs{auth(tok), ctJSON}, more...), body)
}

func call(name string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":` + strconv.Quote(name) + `}}`
}

func chunked(body []byte, chunk int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		n := min(chunk, len(body))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(body[:n])
		b.WriteString("\r\n")
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

func utf16Body(s string, bigEndian, bom bool) []byte {
	var out []byte
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xFEFF}, units...)
	}
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func pingBatch(n int, last string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		if i == n-1 && last != "" {
			b.WriteString(last)
			continue
		}
		fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i)
	}
	b.WriteByte(']')
	return b.String()
}

func deep(n int) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"x":` +
		strings.Repeat("[", n) + strings.Repeat("]", n) + `}}}`
}

func digestHex(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(d[:])
}

// upstreamIdentity checks that the backend got the gateway's identity
// headers and no client copy or credential.
func upstreamIdentity(user, roles string) func(*testing.T, rawResult, []seenRequest) {
	return func(t *testing.T, _ rawResult, up []seenRequest) {
		t.Helper()
		if len(up) != 1 {
			t.Fatalf("backend saw %d requests", len(up))
		}
		h := up[0].Header
		if got := h.Values("X-Mcp-User"); len(got) != 1 || got[0] != user {
			t.Errorf("X-MCP-User upstream = %q, want [%q]", got, user)
		}
		if got := h.Values("X-Mcp-Roles"); len(got) != 1 || got[0] != roles {
			t.Errorf("X-MCP-Roles upstream = %q, want [%q]", got, roles)
		}
		for k := range h {
			if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Mcp-User") && k != "X-Mcp-User" {
				t.Errorf("client copy %q reached the backend", k)
			}
		}
	}
}

func matrixCases() []hcase {
	echo := call("echo")
	big := strings.Repeat("A", 64<<10)
	var cases []hcase
	add := func(c hcase) { cases = append(cases, c) }

	// ---- credentials ----
	cred := func(name string, h hdrs, want int, by string, fwd bool, note string) {
		add(hcase{class: "credential", name: name, req: post(append(h, ctJSON), echo), want: want, by: by, forwarded: fwd, note: note})
	}
	cred("no Authorization", nil, 401, byModule, false, "RFC 6750 challenge without error code")
	cred("empty Authorization", hdrs{"Authorization: "}, 401, byModule, false, "")
	cred("bare word Bearer", hdrs{"Authorization: Bearer"}, 401, byModule, false, "")
	cred("Bearer and spaces only", hdrs{"Authorization: Bearer    "}, 401, byModule, false, "Go trims trailing white space: the bare word")
	cred("lowercase bearer (control)", hdrs{"Authorization: bearer " + bobTok}, 200, byCaddy, true, "the scheme is case-insensitive (RFC 9110 §11.1)")
	cred("upper-case BEARER (control)", hdrs{"Authorization: BEARER " + bobTok}, 200, byCaddy, true, "the scheme is case-insensitive")
	cred("three spaces after Bearer (control)", hdrs{"Authorization: Bearer   " + bobTok}, 200, byCaddy, true, `RFC 6750: "Bearer" 1*SP b64token`)
	cred("tab between Bearer and token", hdrs{"Authorization: Bearer\t" + bobTok}, 400, byModule, false, "a TAB is a control character in the value")
	cred("leading and trailing tabs (control)", hdrs{"Authorization:\tBearer " + bobTok + "\t"}, 200, byCaddy, true, "Go strips the field's surrounding white space (RFC 9112 §5)")
	cred("two Authorization headers, same token", hdrs{auth(bobTok), auth(bobTok)}, 400, byModule, false, "invalid_request")
	cred("two Authorization headers, valid and unknown", hdrs{auth("nope"), auth(aliceTok)}, 400, byModule, false, "")
	cred("Authorization and authorization (one name in Go)", hdrs{auth(bobTok), "authorization: Bearer " + aliceTok}, 400, byModule, false, "")
	cred("two tokens in one value (comma)", hdrs{"Authorization: Bearer " + bobTok + ", Bearer " + aliceTok}, 400, byModule, false, "")
	cred("two tokens in one value (space)", hdrs{"Authorization: Bearer " + bobTok + " " + aliceTok}, 400, byModule, false, "")
	cred("token with NUL", hdrs{"Authorization: Bearer bob\x00" + bobTok}, 400, byGo, false, "invalid header value")
	cred("token with bare CR", hdrs{"Authorization: Bearer " + bobTok + "\rX-A: b"}, 400, byGo, false, "")
	cred("token with LF (header split)", hdrs{"Authorization: Bearer " + bobTok[:5] + "\n" + bobTok[5:]}, 400, byGo, false, "malformed header line")
	cred("token with DEL 0x7f", hdrs{"Authorization: Bearer " + bobTok + "\x7f"}, 400, byGo, false, "")
	cred("token with byte 0xff (not UTF-8)", hdrs{"Authorization: Bearer " + bobTok + "\xff"}, 400, byModule, false, "Go passes obs-text; the module refuses bytes >= 0x80")
	cred("token with UTF-8 é", hdrs{"Authorization: Bearer " + bobTok + "é"}, 400, byModule, false, "")
	cred("obs-fold inside the token", hdrs{"Authorization: Bearer " + bobTok[:5] + "\r\n " + bobTok[5:]}, 400, byModule, false, "Go unfolds to a space: two words")
	cred("obs-fold after Bearer (control)", hdrs{"Authorization: Bearer\r\n " + bobTok}, 200, byCaddy, true, "Go replaces obs-fold with a space (RFC 9112 §5.2 allows it)")
	cred("space before the colon", hdrs{"Authorization : Bearer " + bobTok}, 400, byGo, false, "invalid header name")
	cred("64 KiB unknown token", hdrs{"Authorization: Bearer " + big}, 403, byModule, false, "hashed and looked up like any token")
	cred("valid token padded to 64 KiB", hdrs{"Authorization: Bearer " + bobTok + big}, 403, byModule, false, "")
	cred("2 MiB Authorization header", hdrs{"Authorization: Bearer " + strings.Repeat("A", 2<<20)}, 431, byGo, false, "over max_header_size")
	cred("unknown token", hdrs{auth("not-a-token")}, 403, byModule, false, "invalid_token")
	cred("valid token in another case", hdrs{auth(strings.ToUpper(bobTok))}, 403, byModule, false, "")
	cred("valid token truncated by one byte", hdrs{auth(bobTok[:len(bobTok)-1])}, 403, byModule, false, "")
	cred("token digest presented as token", hdrs{auth("sha256:" + digestHex(bobTok))}, 403, byModule, false, "a digest is not a credential")
	cred("bare hex digest presented as token", hdrs{auth(digestHex(bobTok))}, 403, byModule, false, "")
	cred("bare token without scheme (control)", hdrs{"Authorization: " + bobTok}, 200, byCaddy, true, "documented: a bare token is accepted")
	cred("Basic with the token as password", hdrs{"Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("bob:"+bobTok))}, 401, byModule, false, "another scheme: no credential")
	cred("Basic with the raw token", hdrs{"Authorization: Basic " + bobTok}, 401, byModule, false, "")
	cred("Digest scheme", hdrs{`Authorization: Digest username="bob", response="` + bobTok + `"`}, 401, byModule, false, "")
	cred("Proxy-Authorization only", hdrs{"Proxy-Authorization: Bearer " + bobTok}, 401, byModule, false, "")
	cred("X-Api-Key only (header not configured)", hdrs{"X-Api-Key: " + bobTok}, 401, byModule, false, "")
	add(hcase{class: "credential", name: "token in query access_token", req: build("POST", "/mcp?access_token="+bobTok, hdrs{ctJSON}, []byte(echo)), want: 401, by: byModule, note: "never read from the URL"})
	add(hcase{class: "credential", name: "token in query token and authorization", req: build("POST", "/mcp?token="+bobTok+"&authorization=Bearer%20"+bobTok, hdrs{ctJSON}, []byte(echo)), want: 401, by: byModule})
	add(hcase{class: "credential", name: "token only in a chunked trailer", req: build("POST", "/mcp", hdrs{ctJSON, "Trailer: Authorization", "Transfer-Encoding: chunked"},
		append(bytes.TrimSuffix(chunked([]byte(echo), 1<<10), []byte("\r\n")), []byte(auth(bobTok)+"\r\n\r\n")...)), want: 400, by: byModule, note: "trailers are not headers: a declared trailer is refused before any credential is asked for"})
	add(hcase{class: "credential", name: "valid token, spoofed identity headers", req: postAs(bobTok, echo, "X-MCP-User: token:alice", "X-Mcp_User: token:alice", "X-MCP-Roles: admin"),
		want: 200, by: byCaddy, forwarded: true, note: "client copies removed, gateway's set", check: upstreamIdentity("token:bob", "reader")})

	// ---- JSON smuggling (as bob, who may call echo and get_* only) ----
	js := func(name, body string, want int, note string) {
		add(hcase{class: "json", name: name, req: postAs(bobTok, body), want: want, by: byModule, note: note})
	}
	jsRaw := func(name string, body []byte, want int, note string) {
		add(hcase{class: "json", name: name, req: post(hdrs{auth(bobTok), ctJSON}, string(body)), want: want, by: byModule, note: note})
	}
	js(`"Method" beside "method"`, `{"jsonrpc":"2.0","id":1,"method":"tools/call","Method":"tools/call","params":{"name":"delete_all"}}`, 400, "case variant of a protocol key")
	js(`"Method" alone`, `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"name":"delete_all"}}`, 400, "")
	js("duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"delete_all"}}`, 400, "")
	js("duplicate params.name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_all"}}`, 400, "")
	js("duplicate params.name via escape", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"delete_all"}}`, 400, "keys compared after unescaping")
	js("params.Name case variant", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"delete_all"}}`, 400, "")
	js("params.NAME only", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"NAME":"delete_all"}}`, 400, "")
	js("duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"params":{"name":"delete_all"}}`, 400, "")
	js("Unicode-folded key jſonrpc (U+017F)", `{"jsonrpc":"2.0","jſonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`, 400, "Unicode simple folding, as encoding/json matches")
	js("Unicode-folded key reſult", `{"jsonrpc":"2.0","id":1,"reſult":{},"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("params as array", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["delete_all"]}`, 400, "")
	js("params as string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"delete_all"}`, 400, "")
	js("params null", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":null}`, 400, "")
	js("params.name a number", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}`, 400, "-32602")
	js("params.name an object", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":{"x":"delete_all"}}}`, 400, "")
	js("nested batch", `[[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_all"}}]]`, 400, "")
	js("empty batch", `[]`, 400, "")
	js("batch element not an object", `[1]`, 400, "")
	add(hcase{class: "json", name: "100-element batch, last element denied", req: postAs(bobTok, pingBatch(100, `{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"delete_all"}}`)),
		want: 403, by: byModule, note: "whole batch refused, one error per request", check: func(t *testing.T, res rawResult, _ []seenRequest) {
			var errs []json.RawMessage
			if err := json.Unmarshal(res.body, &errs); err != nil || len(errs) != 100 {
				t.Errorf("want a JSON array of 100 errors, got %d (%v)", len(errs), err)
			}
		}})
	add(hcase{class: "json", name: "100-element batch of ping (control)", req: postAs(bobTok, pingBatch(100, "")), want: 200, by: byCaddy, forwarded: true,
		note: "every element judged and allowed: 100 is the batch bound"})
	js("10,000-element batch", pingBatch(10000, ""), 400, "over the batch bound of 100 messages: nothing judged, nothing forwarded")
	js("nesting 100,000 deep in arguments", deep(100000), 400, "over encoding/json's 10,000 nesting limit: -32700")
	add(hcase{class: "json", name: "nesting 500 deep in arguments (control)", req: postAs(bobTok, deep(500)), want: 200, by: byCaddy, forwarded: true, note: "arguments are not judged"})
	js("id an object", `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("id an array", `{"jsonrpc":"2.0","id":[1],"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("id true", `{"jsonrpc":"2.0","id":true,"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("id null on a request", `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("id 1.5", `{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"echo"}}`, 400, "MCP ids are strings or integers; the Go SDK would read 1")
	js("id 1e400 on a denied call", `{"jsonrpc":"2.0","id":1e400,"method":"tools/call","params":{"name":"delete_all"}}`, 400, "not an integer within ±2^53: -32600 before any rule")
	js("id 2^53+1", `{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"echo"}}`, 400, "decoders would round it")
	jsRaw("UTF-8 BOM", append([]byte("\xef\xbb\xbf"), echo...), 400, "")
	js("trailing garbage", echo+"x", 400, "")
	js("two concatenated messages", echo+call("delete_all"), 400, "")
	js("trailing comma", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},}`, 400, "")
	js("comment", `{"jsonrpc":"2.0","id":1,/* */"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("single quotes", `{'jsonrpc':'2.0','id':1,'method':'tools/call','params':{'name':'delete_all'}}`, 400, "")
	js("NaN id", `{"jsonrpc":"2.0","id":NaN,"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	jsRaw("byte 0xff in the tool name", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo`+"\xff"+`"}}`), 400, "not UTF-8: -32700")
	jsRaw("overlong UTF-8 for '/'", []byte(`{"jsonrpc":"2.0","id":1,"method":"tools\xc0\xafcall","params":{"name":"delete_all"}}`), 400, "")
	jsRaw("UTF-16LE body", utf16Body(call("echo"), false, false), 400, "")
	jsRaw("UTF-16BE body with BOM", utf16Body(call("echo"), true, true), 400, "")
	js(`jsonrpc "1.0"`, strings.Replace(echo, `"2.0"`, `"1.0"`, 1), 400, "")
	js("jsonrpc missing", `{"id":1,"method":"tools/call","params":{"name":"echo"}}`, 400, "")
	js("method and result together", `{"jsonrpc":"2.0","id":1,"method":"tools/call","result":{},"params":{"name":"delete_all"}}`, 400, "")
	js("empty method", `{"jsonrpc":"2.0","id":1,"method":"","params":{"name":"echo"}}`, 400, "")
	js("escaped underscore in a denied name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete\u005fall"}}`, 403, "the decoded name is judged")
	js("escaped slash in the method", `{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"delete_all"}}`, 403, "")
	js("NUL after an allowed name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\u0000"}}`, 403, "no rule matches echo\\u0000")
	js("trailing space after an allowed name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo "}}`, 403, "")
	js("Cyrillic е in echo", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"еcho"}}`, 403, "")
	js("denied call as a notification", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_all"}}`, 403, "")
	js("resource URI with dot segments", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/../private/secrets.txt"}}`, 400, "not in normal form")
	js("resource URI with %2E%2E", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/%2E%2E/private/secrets.txt"}}`, 400, "")
	js("resource URI with %2F", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/..%2Fprivate/secrets.txt"}}`, 400, "")
	js("resource URI upper-case scheme", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"FILE:///docs/a"}}`, 400, "")
	add(hcase{class: "json", name: "Mcp-Name disagrees with the body", req: postAs(bobTok, call("get_time"), "Mcp-Method: tools/call", "Mcp-Name: echo"), want: 400, by: byModule})
	add(hcase{class: "json", name: "client response to a server request (control)", req: postAs(bobTok, `{"jsonrpc":"2.0","id":"srv-1","result":{}}`), want: 200, by: byCaddy, forwarded: true, note: "responses pass"})
	add(hcase{class: "json", name: "name key inside arguments (control)", req: postAs(bobTok, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"delete_all","Name":"x"}}}`),
		want: 200, by: byCaddy, forwarded: true, note: "only params.name is the target"})

	// ---- transport (as alice, calling echo) ----
	tr := func(name string, h hdrs, body []byte, want int, by string, fwd bool, note string) {
		add(hcase{class: "transport", name: name, req: build("POST", "/mcp", append(hdrs{auth(aliceTok)}, h...), body), want: want, by: by, forwarded: fwd, note: note})
	}
	eb := []byte(echo)
	tr("no Content-Type", nil, eb, 415, byModule, false, "")
	tr("Content-Type text/plain", hdrs{"Content-Type: text/plain"}, eb, 415, byModule, false, "")
	tr("Content-Type form-urlencoded", hdrs{"Content-Type: application/x-www-form-urlencoded"}, eb, 415, byModule, false, "a CORS-simple type")
	tr("Content-Type multipart/form-data", hdrs{"Content-Type: multipart/form-data; boundary=x"}, eb, 415, byModule, false, "")
	tr("Content-Type application/jsonx", hdrs{"Content-Type: application/jsonx"}, eb, 415, byModule, false, "")
	tr("Content-Type application/json-seq", hdrs{"Content-Type: application/json-seq"}, eb, 415, byModule, false, "")
	tr("Content-Type list json, text/plain", hdrs{"Content-Type: application/json, text/plain"}, eb, 415, byModule, false, "")
	tr("Content-Type with charset (control)", hdrs{"Content-Type: application/json; charset=utf-8"}, eb, 200, byCaddy, true, "")
	tr("Content-Type upper case (control)", hdrs{"Content-Type: APPLICATION/JSON"}, eb, 200, byCaddy, true, "media types are case-insensitive")
	tr("two Content-Type headers, json first", hdrs{ctJSON, "Content-Type: text/plain"}, eb, 415, byModule, false, "the media type must be given once")
	tr("Content-Encoding gzip", hdrs{ctJSON, "Content-Encoding: gzip"}, gz(eb), 415, byModule, false, "never decoded: refused whatever its size")
	tr("Content-Encoding GZIP", hdrs{ctJSON, "Content-Encoding: GZIP"}, gz(eb), 415, byModule, false, "")
	tr("Content-Encoding deflate", hdrs{ctJSON, "Content-Encoding: deflate"}, eb, 415, byModule, false, "")
	tr("Content-Encoding identity, gzip (one field)", hdrs{ctJSON, "Content-Encoding: identity, gzip"}, gz(eb), 415, byModule, false, "")
	tr("gzip bomb (10 MiB of zeros)", hdrs{ctJSON, "Content-Encoding: gzip"}, gz(make([]byte, 10<<20)), 415, byModule, false, "")
	tr("Content-Encoding identity (control)", hdrs{ctJSON, "Content-Encoding: identity"}, eb, 200, byCaddy, true, "")
	tr("two Content-Encoding headers, identity first", hdrs{ctJSON, "Content-Encoding: identity", "Content-Encoding: gzip"}, eb, 415, byModule, false, "every Content-Encoding header counts")
	tr("Content-Length over max_body, no body sent", hdrs{ctJSON, "Content-Length: 2097152"}, nil, 413, byModule, false, "refused before reading")
	tr("chunked body over max_body", hdrs{ctJSON, "Transfer-Encoding: chunked"}, chunked(append(append([]byte(echo[:len(echo)-1]), `,"pad":"`...), append(bytes.Repeat([]byte("x"), 1<<20), `"}`...)...), 64<<10), 413, byModule, false, "counted while streaming")
	tr("chunked small body (control)", hdrs{ctJSON, "Transfer-Encoding: chunked"}, chunked(eb, 7), 200, byCaddy, true, "")
	tr("Content-Length and chunked together", hdrs{ctJSON, "Content-Length: 4", "Transfer-Encoding: chunked"}, chunked(eb, 16), 200, byCaddy, true,
		"Go reads the chunked body and drops Content-Length (RFC 9112 §6.1); that body is judged")
	tr("two different Content-Length", hdrs{ctJSON, "Content-Length: " + strconv.Itoa(len(eb)), "Content-Length: 5"}, eb, 400, byGo, false, "")
	tr("Transfer-Encoding gzip, chunked", hdrs{ctJSON, "Transfer-Encoding: gzip, chunked"}, chunked(gz(eb), 64), 501, byGo, false, "Go: unsupported transfer encoding (not a 4xx)")
	tr("bad chunk size", hdrs{ctJSON, "Transfer-Encoding: chunked"}, []byte("zz\r\n"+echo+"\r\n0\r\n\r\n"), 400, byModule, false, "body read error: -32700")
	tr("Content-Length shorter than the body", hdrs{ctJSON, "Content-Length: 10"}, eb, 400, byModule, false, "the first 10 bytes are judged: not JSON")
	tr("Expect: 100-continue (control)", hdrs{ctJSON, "Expect: 100-continue"}, eb, 200, byCaddy, true, "100 Continue, then the answer")
	add(hcase{class: "transport", name: "Expect: 100-continue with an unknown token", req: build("POST", "/mcp", hdrs{auth("nope"), ctJSON, "Expect: 100-continue", "Content-Length: " + strconv.Itoa(len(eb))}, nil),
		want: 403, by: byModule, note: "refused without 100 Continue: the body is never asked for", check: func(t *testing.T, res rawResult, _ []seenRequest) {
			if len(res.interim) != 0 {
				t.Errorf("interim responses %v before a refusal", res.interim)
			}
		}})
	tr("Expect: something else", hdrs{ctJSON, "Expect: x-unknown"}, eb, 417, byGo, false, "")
	hdr := build("POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Content-Length: " + strconv.Itoa(len(eb))}, nil)
	add(hcase{class: "transport", name: "body slower than read_body (2s)", write: func(c net.Conn) error {
		if _, err := c.Write(hdr); err != nil {
			return err
		}
		for i := range eb { // one byte every 300 ms: the body needs ~21 s
			if _, err := c.Write(eb[i : i+1]); err != nil {
				return nil // the server gave up: expected
			}
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	}, want: 400, by: byModule, note: "read deadline hit mid-body: -32700 'the body could not be read', after ~2 s", check: func(t *testing.T, res rawResult, _ []seenRequest) {
		if res.elapsed < 1500*time.Millisecond || res.elapsed > 6*time.Second {
			t.Errorf("answered after %s, want about 2s (read_body)", res.elapsed)
		}
	}})
	tr("no Host header", hdrs{ctJSON}, eb, 400, byGo, false, "HTTP/1.1 requires Host")
	cases[len(cases)-1].req = bytes.Replace(cases[len(cases)-1].req, []byte("Host: 127.0.0.1\r\n"), nil, 1)

	// ---- HTTP methods ----
	meth := func(name, method, target string, h hdrs, body []byte, want int, by string, fwd bool, note string) {
		add(hcase{class: "method", name: name, req: build(method, target, h, body), method: method, want: want, by: by, forwarded: fwd, note: note})
	}
	meth("HEAD", "HEAD", "/mcp", hdrs{auth(aliceTok)}, nil, 405, byModule, false, "Allow: GET, POST, DELETE, OPTIONS; no body (HEAD)")
	meth("PUT", "PUT", "/mcp", hdrs{auth(aliceTok), ctJSON}, eb, 405, byModule, false, "")
	meth("PATCH", "PATCH", "/mcp", hdrs{auth(aliceTok), ctJSON}, eb, 405, byModule, false, "")
	meth("CONNECT /mcp", "CONNECT", "/mcp", hdrs{auth(aliceTok)}, nil, 405, byModule, false, "")
	meth("CONNECT authority-form", "CONNECT", "127.0.0.1:1", hdrs{auth(aliceTok)}, nil, 405, byModule, false, "")
	meth("TRACE", "TRACE", "/mcp", hdrs{auth(aliceTok)}, nil, 405, byModule, false, "")
	meth("PROPFIND", "PROPFIND", "/mcp", hdrs{auth(aliceTok)}, nil, 405, byModule, false, "")
	meth("lower-case post", "post", "/mcp", hdrs{auth(aliceTok), ctJSON}, eb, 405, byModule, false, "methods are case-sensitive")
	meth("OPTIONS without credential, not a preflight", "OPTIONS", "/mcp", nil, nil, 401, byModule, false, "")
	meth("CORS preflight with a body", "OPTIONS", "/mcp", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST", ctJSON}, eb, 400, byModule, false, "a body makes it no preflight, and a body on OPTIONS is refused before any credential is asked for")
	meth("CORS preflight from a foreign Origin", "OPTIONS", "/mcp", hdrs{"Origin: http://evil.example", "Access-Control-Request-Method: POST"}, nil, 403, byModule, false, "forbidden_origin")
	meth("CORS preflight (control)", "OPTIONS", "/mcp", hdrs{"Origin: http://good.example", "Access-Control-Request-Method: POST"}, nil, 200, byCaddy, true, "goes to the backend without a credential")
	meth("POST from a foreign Origin", "POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Origin: http://evil.example"}, eb, 403, byModule, false, "")
	meth("Origin null", "POST", "/mcp", hdrs{auth(aliceTok), ctJSON, "Origin: null"}, eb, 403, byModule, false, "")
	meth("GET without credential", "GET", "/mcp", hdrs{"Accept: text/event-stream"}, nil, 401, byModule, false, "")
	meth("DELETE without credential", "DELETE", "/mcp", nil, nil, 401, byModule, false, "")
	meth("POST /MCP without credential", "POST", "/MCP", hdrs{ctJSON}, eb, 401, byModule, false, "site-wide: every path")
	meth("POST //mcp/../mcp without credential", "POST", "//mcp/../mcp", hdrs{ctJSON}, eb, 401, byModule, false, "")
	meth("GET with a JSON-RPC body for a denied tool", "GET", "/mcp", hdrs{auth(bobTok), ctJSON}, []byte(call("delete_all")), 400, byModule, false,
		"only POST bodies are judged, so no other method may carry one")
	meth("DELETE with a JSON-RPC body for a denied tool", "DELETE", "/mcp", hdrs{auth(bobTok), ctJSON}, []byte(call("delete_all")), 400, byModule, false, "")

	// ---- sessions and policy ----
	add(hcase{class: "session", name: "forged Mcp-Session-Id", req: postAs(aliceTok, echo, "Mcp-Session-Id: abc.def"), want: 404, by: byModule, note: "session_not_found"})
	add(hcase{class: "session", name: "two Mcp-Session-Id headers", req: postAs(aliceTok, echo, "Mcp-Session-Id: a", "Mcp-Session-Id: b"), want: 400, by: byModule})
	add(hcase{class: "policy", name: "admin calls a denied tool", req: postAs(aliceTok, call("delete_all")), want: 403, by: byModule, note: "deny_with status: JSON-RPC error -32030"})
	add(hcase{class: "policy", name: "reader calls an unlisted tool", req: postAs(bobTok, call("add")), want: 403, by: byModule})
	add(hcase{class: "policy", name: "reader reads a private resource", req: postAs(bobTok, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///private/secrets.txt"}}`), want: 403, by: byModule})
	add(hcase{class: "policy", name: "admin calls echo (control)", req: postAs(aliceTok, echo), want: 200, by: byCaddy, forwarded: true, check: upstreamIdentity("token:alice", "admin")})
	add(hcase{class: "policy", name: "reader lists tools (control)", req: postAs(bobTok, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), want: 200, by: byCaddy, forwarded: true})
	add(hcase{class: "policy", name: "reader GET stream (control)", req: build("GET", "/mcp", hdrs{auth(bobTok), "Accept: text/event-stream"}, nil), want: 200, by: byCaddy, forwarded: true,
		stream: true, note: "an SSE stream; the test reads its head"})
	cases = append(cases, differentialCases()...)
	return append(cases, revisionCases()...)
}

func TestHostileMatrix(t *testing.T) {
	be := newMatrixBackend(t)
	c := startCaddy(t, matrixGlobal, strings.NewReplacer("{AUTH}", matrixAuth, "{BACKEND}", be.addr()).Replace(matrixSite))
	cases := matrixCases()

	refused, controls := 0, 0
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.class+"/"+tc.name] {
			t.Errorf("two cases named %s/%s", tc.class, tc.name)
		}
		names[tc.class+"/"+tc.name] = true
		if tc.forwarded {
			controls++
		} else {
			refused++
		}
	}
	t.Logf("%d cases: %d refused, %d forwarded (controls and findings)", len(cases), refused, controls)
	if refused < 60 {
		t.Errorf("only %d hostile refused cases; the issue asks for at least 60", refused)
	}

	for _, tc := range cases {
		t.Run(tc.class+"/"+tc.name, func(t *testing.T) {
			before, rec, arrived := be.count(), be.recorded(), be.arrived()
			timeout := 10 * time.Second
			method := tc.method
			if method == "" {
				method = "POST"
			}
			var res rawResult
			var err error
			if tc.stream {
				// An SSE stream never ends by itself: read its head only.
				res, err = rawStreamHead(c.Addr(), tc.req)
			} else {
				res, err = rawDo(c.Addr(), method, tc.req, tc.write, timeout)
			}
			if err != nil {
				t.Fatalf("request failed: %v", err)
			}
			got := be.count() - before
			want := int64(0)
			if tc.forwarded {
				want = 1
			}
			if res.status != tc.want {
				t.Errorf("status %d (%q), want %d; body %s", res.status, res.firstRaw, tc.want, testcaddy.Tail(string(res.body), 300))
			}
			if got != want {
				t.Errorf("backend saw %d requests, want %d", got, want)
			}
			up := be.since(rec)
			for _, r := range up {
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, bobTok) || strings.Contains(v, aliceTok) {
							t.Errorf("a token reached the backend in %s", k)
						}
					}
				}
				if r.Header.Get("Authorization") != "" {
					t.Errorf("Authorization reached the backend")
				}
			}
			for _, tr := range be.trailersSince(arrived) {
				t.Errorf("request trailers reached the backend: %v", tr)
			}
			switch tc.by {
			case byModule:
				if ct := res.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("module refusal with Content-Type %q", ct)
				}
				if method != "HEAD" && !json.Valid(res.body) {
					t.Errorf("module refusal body is not JSON: %q", testcaddy.Tail(string(res.body), 300))
				}
				if res.status < 400 || res.status > 499 {
					t.Errorf("refusal status %d is not a 4xx", res.status)
				}
			case byGo:
				if ct := res.header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Go's own refusal with Content-Type %q", ct)
				}
			}
			if tc.check != nil {
				tc.check(t, res, up)
			}
		})
	}

	md := matrixMarkdown(cases)
	if *update {
		if err := os.WriteFile("MATRIX.md", []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile("MATRIX.md")
	if err != nil || string(have) != md {
		t.Errorf("MATRIX.md is not the summary of this matrix; run: go test ./hostile -run TestHostileMatrix -update")
	}
}

// rawStreamHead sends a GET that opens a stream and returns once the
// status line and headers are in.
func rawStreamHead(addr string, req []byte) (rawResult, error) {
	var res rawResult
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(req); err != nil {
		return res, err
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return res, err
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	res.firstRaw = line
	f := strings.Fields(line)
	if len(f) >= 2 {
		res.status, _ = strconv.Atoi(f[1])
	}
	return res, nil
}

func matrixMarkdown(cases []hcase) string {
	var b strings.Builder
	b.WriteString("# Hostile-input matrix\n\n")
	b.WriteString("Generated by `go test ./hostile -run TestHostileMatrix -update` from `matrix_test.go`;\n")
	b.WriteString("the test fails when this file and the matrix disagree. Every row is a raw HTTP/1.1 request\n")
	b.WriteString("sent over TCP to a real Caddy process (`cmd/caddy`) with `mcp_auth` in front of a backend\n")
	b.WriteString("that counts what reaches it. *Forwarded* is what the backend saw: a refused row must show\n")
	b.WriteString("`no`. *Answered by*: `mcp_auth` (a JSON body), `Go` (Go's HTTP server refuses the request\n")
	b.WriteString("itself, plain text, before any handler runs) or `backend` (passed on).\n\n")
	b.WriteString("Config: tokens `alice` (admin: all but `tools/call delete_*`) and `bob` (reader: `tools/list`,\n")
	b.WriteString("`tools/call echo get_*`, `resources/read file:///docs/* skill://docs/*`, `resources/subscribe` and\n")
	b.WriteString("`resources/unsubscribe file:///docs/*`), `deny_with status`, `allowed_origins http://good.example`,\n")
	b.WriteString("`identity_header`/`roles_header`, `max_body` 1 MiB (default); the same on `/strict/*` with\n")
	b.WriteString("`min_protocol_version 2026-07-28`; and the server options `timeouts { read_body 2s }` and\n")
	b.WriteString("`max_header_size 256KiB` (with Caddy's default of 16 KiB a 64 KiB token gets Go's 431 instead\n")
	b.WriteString("of the module's 403). Besides each row's own check, every row asserts that no token, no\n")
	b.WriteString("`Authorization` header and no request trailer reached the backend.\n\n")
	b.WriteString("Cleartext HTTP/2 by upgrade (what `curl --http2 http://…` sends: `Upgrade: h2c`,\n")
	b.WriteString("`Connection: Upgrade, HTTP2-Settings`) is refused like every `Upgrade`; use TLS, or\n")
	b.WriteString("`--http2-prior-knowledge` where the server enables h2c.\n\n")
	// A finding is a row whose outcome is reported against the module (see
	// its note); it counts as refused or forwarded like any other row.
	var classes []string
	perClass := map[string][3]int{}
	var total [3]int
	for _, tc := range cases {
		n, ok := perClass[tc.class]
		if !ok {
			classes = append(classes, tc.class)
		}
		i := 0
		if tc.forwarded {
			i = 1
		}
		n[i]++
		total[i]++
		if tc.finding {
			n[2]++
			total[2]++
		}
		perClass[tc.class] = n
	}
	fmt.Fprintf(&b, "%d requests: %d refused with nothing forwarded, %d forwarded (controls, and findings); %d findings marked **finding**.\n\n",
		len(cases), total[0], total[1], total[2])
	b.WriteString("| class | refused | forwarded | findings |\n|---|---|---|---|\n")
	for _, c := range classes {
		n := perClass[c]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", c, n[0], n[1], n[2])
	}
	b.WriteString("\n| class | request | status | answered by | forwarded | note |\n|---|---|---|---|---|---|\n")
	for _, tc := range cases {
		fw := "no"
		if tc.forwarded {
			fw = "yes"
		}
		note := tc.note
		if tc.finding {
			note = "**finding**: " + strings.TrimPrefix(strings.TrimPrefix(note, "FINDING (low): "), "finding: ")
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", tc.class, mdEscape(tc.name), tc.want, tc.by, fw, mdEscape(note))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

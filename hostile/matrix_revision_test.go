package hostile

import (
	"strings"
	"testing"
)

// The resource URIs of every method that names one (the differential
// issue, #9), and the methods, fields and headers of revision 2026-07-28
// (#11): subscriptions/listen, the strict-key rule on every judged path,
// lone surrogates, MCP-Protocol-Version against _meta, Mcp-Method and
// Mcp-Name, absent targets, min_protocol_version.

// call26 is a 2026-07-28 tools/call (send it with hdr26).
func call26(name string) string {
	return rpc("tools/call", `{"name":"`+name+`",`+meta26+`}`)
}

func revisionCases() []hcase {
	var cases []hcase
	add := func(c hcase) { cases = append(cases, c) }
	as := func(tok string) func(class, name, body string, want int, note string, more ...string) {
		return func(class, name, body string, want int, note string, more ...string) {
			by, fwd := byModule, false
			if want < 300 {
				by, fwd = byCaddy, true
			}
			add(hcase{class: class, name: name, req: postAs(tok, body, more...), want: want, by: by, forwarded: fwd, note: note})
		}
	}
	bob, alice := as(bobTok), as(aliceTok)
	last := func() *hcase { return &cases[len(cases)-1] }

	// ---- uri: canonical under RFC 3986 and WHATWG, on every method that names one (as bob: file:///docs/*, skill://docs/*) ----
	uri := func(method, u string, want int, note string) {
		name := method + " " + u
		body := rpc(method, uriParams(u))
		if method == "subscriptions/listen" {
			name = "listen resourceSubscriptions " + u
			body = listen(`{"resourceSubscriptions":["` + strings.ReplaceAll(u, " | ", `","`) + `"]}`)
		}
		more := []string{}
		if method == "subscriptions/listen" {
			more = append(more, hdr26)
		}
		bob("uri", name, body, want, note, more...)
		if want == 400 {
			last().check = answerMentions(`"code":-32602`)
		}
	}
	// WHATWG rewrites that RFC 3986 normalization leaves alone.
	uri("resources/read", "file:/private/secrets.txt", 400, "RFC 3986-normal; WHATWG (the TypeScript SDK's lookup) serializes file:///private/secrets.txt: misses `file:///private/*` rules, served by the backend")
	uri("resources/read", "file://localhost/private/secrets.txt", 400, "WHATWG drops the localhost host")
	uri("resources/read", "file:private/secrets.txt", 400, "")
	uri("resources/read", "file://localhost/docs/readme.md", 400, "refused even where the canonical form is allowed: never rewritten")
	uri("resources/read", "https:example.com/private", 400, "a special scheme without //")
	uri("resources/read", "https:/example.com/private", 400, "one slash")
	uri("resources/read", "https://example.com:443/private", 400, "the default port")
	uri("resources/read", "ws://example.com:80/private", 400, "")
	uri("resources/read", "http://example.com", 400, "WHATWG adds the empty path's /")
	uri("resources/read", "http://127.1/private", 400, "IPv4 shorthand: http://127.0.0.1/private")
	uri("resources/read", "http://0x7f.0.0.1/private", 400, "hexadecimal IPv4")
	uri("resources/read", "http://1.2.3.04/private", 400, "")
	uri("resources/read", "http://[0:0::1]/private", 400, "IPv6 compressed: http://[::1]/private")
	uri("resources/read", "https://user:@example.com/private", 400, "empty password dropped")
	uri("resources/read", "https://@example.com/private", 400, "empty userinfo dropped")
	uri("resources/read", "http://example.com:08080/private", 400, "leading zero in the port")
	uri("resources/read", "file:/C:/private", 400, "Windows drive letter")
	uri("resources/read", "https://example.com:65536/private", 400, "WHATWG cannot parse it; a backend might still look it up literally")
	// RFC 3986 normalization problems (WHATWG may keep some of them).
	uri("resources/read", "file:///docs/%7Ereadme", 400, "percent-encoded unreserved")
	uri("resources/read", "file:///docs/%2e%2e/private/secrets.txt", 400, "lower-case percent-encoding")
	uri("resources/read", "file://LOCALHOST/private/secrets.txt", 400, "")
	uri("resources/read", "file:///docs/é", 400, "non-ASCII must be percent-encoded")
	uri("resources/read", "file:///docs//readme.md", 400, "empty segment")
	uri("resources/read", "file:///docs/readme.md", 200, "control")
	uri("resources/read", "file:///docs/a%20b", 200, "control: canonical percent-encoding")
	uri("resources/read", "file:///private/secrets.txt?", 403, "canonical (the empty query stays): judged, and denied")
	uri("resources/subscribe", "file:/private/secrets.txt", 400, "")
	uri("resources/subscribe", "file://localhost/private/secrets.txt", 400, "")
	uri("resources/subscribe", "https://example.com:443/private", 400, "")
	uri("resources/subscribe", private, 403, "canonical: judged, and denied")
	uri("resources/subscribe", "file:///docs/readme.md", 200, "control")
	uri("resources/unsubscribe", "file:/private/secrets.txt", 400, "")
	uri("resources/unsubscribe", "file://localhost/private/secrets.txt", 400, "")
	uri("resources/unsubscribe", "file:///docs/readme.md", 200, "control")
	uri("skills/get", "file:/private/SKILL.md", 400, "TypeScript SDK v2 skills: judged as resources/read")
	uri("skills/get", "skill://docs/../private/SKILL.md", 400, "")
	uri("skills/get", "skill://Docs/SKILL.md", 400, "upper-case host")
	uri("skills/get", "skill://private/SKILL.md", 403, "canonical: judged as resources/read, denied")
	uri("skills/get", "skill://docs/SKILL.md", 200, "control")
	uri("resources/directory/read", "file://localhost/private/", 400, "")
	uri("resources/directory/read", "https:/example.com/private/", 400, "")
	uri("resources/directory/read", "file:///private/", 403, "")
	uri("resources/directory/read", "file:///docs/", 200, "control")
	uri("subscriptions/listen", "file:/private/secrets.txt", 400, "each URI is judged as resources/subscribe")
	uri("subscriptions/listen", "file:///docs/readme.md | file://localhost/private/secrets.txt", 400, "the second of two")
	uri("subscriptions/listen", "https://example.com:443/private", 400, "")
	alice("uri", "opaque db: URI, byte for byte (control)", rpc("resources/read", uriParams("db:docs/a")), 200, "neither rewrites an opaque custom scheme")
	last().check = upstreamBody(rpc("resources/read", uriParams("db:docs/a")))
	alice("uri", "mem: URI (control)", rpc("resources/read", uriParams("mem:private/x")), 200, "")
	bob("uri", "completion/complete of a resource template (control)",
		rpc("completion/complete", `{"ref":{"type":"ref/resource","uri":"file:///docs/{name}"},"argument":{"name":"name","value":"r"}}`), 200,
		"templates are matched literally: a WHATWG parser would percent-encode the braces")

	// ---- listen: subscriptions/listen (2026-07-28), as bob (resources/subscribe file:///docs/*) ----
	ls := func(name, notifications string, want int, note string) {
		bob("listen", name, listen(notifications), want, note, hdr26)
	}
	ls("one allowed subscription (control)", `{"resourceSubscriptions":["file:///docs/readme.md"]}`, 200, "")
	ls("list-changed opt-ins only (control)", `{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}`, 200, "opt-ins never cause a refusal")
	ls("no notifications (control)", `{}`, 200, "")
	ls("a denied subscription", `{"resourceSubscriptions":["`+private+`"]}`, 403, "was always allowed; now judged as resources/subscribe: -32030 naming the URI")
	last().check = answerMentions("-32030", private)
	ls("an allowed and a denied subscription", `{"toolsListChanged":true,"resourceSubscriptions":["file:///docs/readme.md","`+private+`"]}`, 403, "")
	ls("escaped slashes in a denied URI", `{"resourceSubscriptions":["file:\/\/\/private\/secrets.txt"]}`, 403, "the decoded URI is judged")
	ls("duplicate resourceSubscriptions", `{"resourceSubscriptions":["file:///docs/readme.md"],"resourceSubscriptions":["`+private+`"]}`, 400, "JSON.parse keeps the last")
	ls("ResourceSubscriptions beside resourceSubscriptions", `{"resourceSubscriptions":["file:///docs/readme.md"],"ResourceSubscriptions":["`+private+`"]}`, 400, "case variant")
	ls("ResourceSubscriptions alone", `{"ResourceSubscriptions":["`+private+`"]}`, 400, "Go's encoding/json would read it")
	ls("resourcesubscriptions (lower case)", `{"resourcesubscriptions":["`+private+`"]}`, 400, "")
	ls("resourceSubscriptions a string", `{"resourceSubscriptions":"`+private+`"}`, 400, "")
	ls("resourceSubscriptions an object", `{"resourceSubscriptions":{"0":"`+private+`"}}`, 400, "")
	ls("a number in resourceSubscriptions", `{"resourceSubscriptions":[1]}`, 400, "")
	ls("null in resourceSubscriptions", `{"resourceSubscriptions":[null]}`, 400, "")
	ls("an empty URI in resourceSubscriptions", `{"resourceSubscriptions":[""]}`, 400, "")
	ls("nested array in resourceSubscriptions", `{"resourceSubscriptions":[["`+private+`"]]}`, 400, "")
	ls("notifications an array", `[{"resourceSubscriptions":["`+private+`"]}]`, 400, "")
	bob("listen", "duplicate notifications", rpc("subscriptions/listen", `{`+meta26+`,"notifications":{"toolsListChanged":true},"notifications":{"resourceSubscriptions":["`+private+`"]}}`), 400, "", hdr26)
	bob("listen", "Notifications beside notifications", rpc("subscriptions/listen", `{`+meta26+`,"notifications":{},"Notifications":{"resourceSubscriptions":["`+private+`"]}}`), 400, "", hdr26)
	bob("listen", "params.NOTIFICATIONS alone", rpc("subscriptions/listen", `{`+meta26+`,"NOTIFICATIONS":{"resourceSubscriptions":["`+private+`"]}}`), 400, "", hdr26)
	ls("duplicate toolsListChanged", `{"toolsListChanged":true,"toolsListChanged":false}`, 400, "every key of a judged object is strict")
	ls("duplicate taskIds", `{"taskIds":["a"],"taskIds":["b"]}`, 400, "")
	ls("taskIds a string", `{"taskIds":"a"}`, 400, "")

	// ---- surrogate: escaped lone surrogates in judged strings (JavaScript keeps them, Go reads U+FFFD) ----
	sg := func(name, body string, note string, more ...string) {
		bob("surrogate", name, body, 400, note, more...)
	}
	sg("lone high surrogate in the tool name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\ud800"}}`, "")
	sg("lone low surrogate first in the tool name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\udc00echo"}}`, "")
	sg("high surrogate followed by a non-surrogate escape", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\ud800\u0041"}}`, "")
	sg("reversed pair in the prompt name", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"\ude00\ud83d"}}`, "")
	sg("lone surrogate in the method", `{"jsonrpc":"2.0","id":1,"method":"tools/call\ud800","params":{"name":"echo"}}`, "")
	sg("lone surrogate in a string id", `{"jsonrpc":"2.0","id":"\ud800","method":"tools/call","params":{"name":"echo"}}`, "responses could not be matched")
	sg("lone surrogate in a resource URI", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/\ud800"}}`, "")
	sg("lone surrogate in a listen URI", listen(`{"resourceSubscriptions":["file:///docs/\udfff"]}`), "", hdr26)
	sg("lone surrogate in the _meta protocolVersion", rpc("tools/call", `{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28\ud800"}}`), "", hdr26)
	sg("lone surrogate in the related-task taskId", rpc("tools/call", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t\ud800"}}}`), "")
	sg("lone surrogate in the cursor", rpc("tools/list", `{"cursor":"c\ud800"}`), "")
	sg("lone surrogate in the completion ref name", rpc("completion/complete", `{"ref":{"type":"ref/prompt","name":"p\ud800"},"argument":{"name":"a","value":""}}`), "")
	alice("surrogate", "lone surrogate in a taskId", rpc("tasks/get", `{"taskId":"t\ud800"}`), 400, "")
	bob("surrogate", "UTF-8-encoded surrogate bytes (ED A0 80) in the name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo`+"\xed\xa0\x80"+`"}}`, 400, "not UTF-8: -32700")
	bob("surrogate", "a valid pair in the name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo\ud83d\ude00"}}`, 403, "decoded (echo😀) and judged: no rule")
	bob("surrogate", "lone surrogate inside arguments (control)", rpc("tools/call", `{"name":"echo","arguments":{"text":"\ud800"}}`), 200, "arguments are not judged")

	// ---- strict-keys: duplicate and case-variant keys on every judged path (as bob, calling echo) ----
	sk := func(name, params string, note string) {
		bob("strict-keys", name, rpc("tools/call", params), 400, note)
	}
	sk("duplicate _meta", `{"name":"echo","_meta":{},"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t"}}}`, "")
	sk("_Meta beside _meta", `{"name":"echo","_meta":{},"_Meta":{"progressToken":1}}`, "")
	sk("_META alone", `{"name":"echo","_META":{"progressToken":1}}`, "")
	sk("duplicate progressToken in _meta", `{"name":"echo","_meta":{"progressToken":1,"progressToken":2}}`, "every key of _meta")
	sk("duplicate protocolVersion in _meta", `{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/protocolVersion":"2025-06-18"}}`, "")
	sk("protocolversion case variant in _meta", `{"name":"echo","_meta":{"io.modelcontextprotocol/protocolversion":"2025-06-18"}}`, "")
	sk("two related-task entries", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"a"},"io.modelcontextprotocol/related-task":{"taskId":"b"}}}`, "")
	sk("related-task in upper case", `{"name":"echo","_meta":{"IO.MODELCONTEXTPROTOCOL/RELATED-TASK":{"taskId":"a"}}}`, "")
	sk("duplicate taskId in the related-task entry", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"a","taskId":"b"}}}`, "")
	sk("taskid case variant in the related-task entry", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"a","taskid":"b"}}}`, "")
	sk("TaskId alone in the related-task entry", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"TaskId":"a"}}}`, "")
	sk("related-task a string", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":"a"}}`, "-32602")
	sk("related-task taskId a number", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":7}}}`, "")
	sk("_meta an array", `{"name":"echo","_meta":[]}`, "")
	sk("duplicate key in params.task", `{"name":"echo","task":{"ttl":1000,"ttl":1}}`, "")
	sk("params.Task case variant", `{"name":"echo","task":{},"Task":{"ttl":1}}`, "")
	sk("params.task a string", `{"name":"echo","task":"x"}`, "")
	sk("duplicate key in inputResponses", `{"name":"echo","inputResponses":{"k1":{"action":"accept"},"k1":{"action":"decline"}},"requestState":"s"}`, "")
	sk("InputResponses case variant", `{"name":"echo","inputResponses":{},"InputResponses":{"k1":{}}}`, "")
	sk("inputResponses an array", `{"name":"echo","inputResponses":[{"action":"accept"}]}`, "")
	sk("duplicate requestState", `{"name":"echo","requestState":"a","requestState":"b"}`, "")
	sk("RequestState case variant", `{"name":"echo","requestState":"a","RequestState":"b"}`, "")
	sk("requestState a number", `{"name":"echo","requestState":1}`, "")
	bob("strict-keys", "duplicate cursor", rpc("tools/list", `{"cursor":"a","cursor":"b"}`), 400, "")
	bob("strict-keys", "Cursor case variant", rpc("tools/list", `{"Cursor":"a"}`), 400, "")
	bob("strict-keys", "cursor a number", rpc("tools/list", `{"cursor":1}`), 400, "")
	alice("strict-keys", "duplicate taskId", rpc("tasks/get", `{"taskId":"a","taskId":"b"}`), 400, "")
	alice("strict-keys", "taskID case variant", rpc("tasks/get", `{"taskId":"a","taskID":"b"}`), 400, "")
	alice("strict-keys", "taskid alone", rpc("tasks/get", `{"taskid":"a"}`), 400, "")
	alice("strict-keys", "taskId a number", rpc("tasks/cancel", `{"taskId":1}`), 400, "")
	bob("strict-keys", "duplicate key in params.ref", rpc("completion/complete", `{"ref":{"type":"ref/prompt","name":"p","name":"q"},"argument":{"name":"a","value":""}}`), 400, "")
	bob("strict-keys", "_meta with progressToken (control)", rpc("tools/call", `{"name":"echo","_meta":{"progressToken":"p1"}}`), 200, "")
	bob("strict-keys", "retry of echo with inputResponses (control)", rpc("tools/call", `{"name":"echo","inputResponses":{"k1":{"action":"accept","content":{}}}}`), 200, "a retry is judged as a tools/call")
	bob("strict-keys", "retry of a denied tool with inputResponses", rpc("tools/call", `{"name":"delete_all","inputResponses":{"k1":{"action":"accept"}}}`), 403, "")

	// ---- version: MCP-Protocol-Version against the body's _meta ----
	vr := func(name, body string, want int, note string, more ...string) {
		bob("version", name, body, want, note, more...)
		if want == 400 {
			last().check = answerMentions(`"code":-32020`)
		}
	}
	metaCall := func(v string) string {
		return rpc("tools/call", `{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":"`+v+`","io.modelcontextprotocol/clientCapabilities":{}}}`)
	}
	vr("header 2026-07-28, _meta 2025-11-25", metaCall("2025-11-25"), 400, "", hdr26)
	vr("header 2025-11-25, _meta 2026-07-28", metaCall("2026-07-28"), 400, "the TypeScript SDK v1 would run it as 2025-11-25", "MCP-Protocol-Version: 2025-11-25")
	vr("_meta 2026-07-28, no header", metaCall("2026-07-28"), 400, "")
	vr("_meta 2025-06-18, no header", metaCall("2025-06-18"), 400, "any _meta version needs the header")
	vr("two MCP-Protocol-Version lines, same value", call("echo"), 400, "may appear once", hdr26, hdr26)
	vr("two MCP-Protocol-Version lines, different", metaCall("2026-07-28"), 400, "Go reads the first, hono joins them", hdr26, "MCP-Protocol-Version: 2025-06-18")
	vr("mcp-protocol-version and MCP-Protocol-Version", call("echo"), 400, "one name to Go", "mcp-protocol-version: 2025-06-18", hdr26)
	vr("one line 2026-07-28, 2026-07-28 with a _meta", metaCall("2026-07-28"), 400, "no revision: -32022", "MCP-Protocol-Version: 2026-07-28, 2026-07-28")
	last().check = answerMentions(`"code":-32022`)
	vr("batch: the second element's _meta without header", `[`+call("echo")+`,`+strings.Replace(metaCall("2026-07-28"), `"id":1`, `"id":2`, 1)+`]`, 400, "every element")
	vr("_meta protocolVersion a number", rpc("tools/call", `{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}`), 400, "-32602", hdr26)
	last().check = answerMentions(`"code":-32602`)
	vr("header and _meta 2026-07-28 (control)", metaCall("2026-07-28"), 200, "", hdr26)
	vr("header with surrounding spaces (control)", metaCall("2026-07-28"), 200, "Go trims the field value", "MCP-Protocol-Version:   2026-07-28  ")
	vr("header 2025-06-18 without _meta (control)", call("echo"), 200, "a legacy request", "MCP-Protocol-Version: 2025-06-18")
	vr("initialize proposing 2026-07-28 under a 2025-06-18 header (control)",
		rpc("initialize", `{"protocolVersion":"2026-07-28","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`), 200,
		"initialize proposes a revision: not compared", "MCP-Protocol-Version: 2025-06-18")
	vr("one line 2026-07-28, 2026-07-28 without _meta", call("echo"), 400,
		"an MCP-Protocol-Version that is no revision (YYYY-MM-DD) is refused with -32022: the Go SDK would sort it after 2026-07-28",
		"MCP-Protocol-Version: 2026-07-28, 2026-07-28")
	last().check = answerMentions(`"code":-32022`)
	vr("MCP-Protocol-Version 9", call("echo"), 400, "no revision at all", "MCP-Protocol-Version: 9")
	last().check = answerMentions(`"code":-32022`)
	vr("unknown revision 2099-01-01 without _meta (control)", call("echo"), 200,
		"a well-formed revision the module does not know: no minimum on this route, so the backend answers it (both SDKs: 400 -32022)",
		"MCP-Protocol-Version: 2099-01-01")

	// ---- mcp-headers: Mcp-Method and Mcp-Name must equal the body (plain or =?base64?…?=) ----
	mh := func(name, body string, want int, note string, more ...string) {
		bob("mcp-headers", name, body, want, note, append([]string{hdr26}, more...)...)
		if want == 400 {
			last().check = answerMentions(`"code":-32020`)
		}
	}
	mh("Mcp-Name echo on a call of delete_all", call26("delete_all"), 400, "the header never authorizes: the body is judged", "Mcp-Method: tools/call", "Mcp-Name: echo")
	mh("Mcp-Name delete_all on a call of echo", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: delete_all")
	mh("Mcp-Method tools/list on a tools/call", call26("echo"), 400, "", "Mcp-Method: tools/list", "Mcp-Name: echo")
	mh("Mcp-Method Tools/Call (case)", call26("echo"), 400, "values are case-sensitive", "Mcp-Method: Tools/Call", "Mcp-Name: echo")
	mh("base64 Mcp-Name of delete_all on a call of echo", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: "+b64("delete_all"))
	mh("base64 Mcp-Name of echo on a call of delete_all", call26("delete_all"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: "+b64("echo"))
	mh("base64 Mcp-Name, invalid base64", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: =?base64?ZW*obw==?=")
	mh("base64 Mcp-Name without padding", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: =?base64?ZWNobw?=")
	mh("base64 Mcp-Name without the ?= suffix", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Name: =?base64?ZWNobw==")
	mh("=?BASE64?…?= (the prefix is case-sensitive)", call26("echo"), 400, "read as a plain value", "Mcp-Method: tools/call", "Mcp-Name: =?BASE64?ZWNobw==?=")
	mh("base64 Mcp-Method of tools/list on a tools/call", call26("echo"), 400, "", "Mcp-Method: "+b64("tools/list"), "Mcp-Name: echo")
	mh("two Mcp-Name lines", call26("echo"), 400, "Go reads the first, the TypeScript SDK joins them", "Mcp-Method: tools/call", "Mcp-Name: echo", "Mcp-Name: delete_all")
	mh("two Mcp-Method lines", call26("echo"), 400, "", "Mcp-Method: tools/call", "Mcp-Method: tools/call", "Mcp-Name: echo")
	mh("Mcp-Name on tools/list (no target)", rpc("tools/list", `{`+meta26+`}`), 400, "", "Mcp-Method: tools/list", "Mcp-Name: echo")
	mh("Mcp-Name on a resources/read of another URI", rpc("resources/read", `{"uri":"`+private+`",`+meta26+`}`), 400, "",
		"Mcp-Method: resources/read", "Mcp-Name: file:///docs/readme.md")
	bob("mcp-headers", "Mcp-Method on a batch", `[`+call("echo")+`]`, 400, "the headers name one message", "Mcp-Method: tools/call")
	alice("mcp-headers", "Mcp-Name on a call without params.name", rpc("tools/call", `{"arguments":{}}`), 400, "", "Mcp-Method: tools/call", "Mcp-Name: echo")
	mh("Mcp-Method and Mcp-Name equal the body (control)", call26("echo"), 200, "", "Mcp-Method: tools/call", "Mcp-Name: echo")
	mh("base64 Mcp-Name of echo (control)", call26("echo"), 200, "the TypeScript SDK v2 decodes it too; the Go SDK v1.8 compares it raw and answers 400 itself", "Mcp-Method: tools/call", "Mcp-Name: "+b64("echo"))
	mh("Mcp-Name with surrounding spaces (control)", call26("echo"), 200, "Go trims the field value, the SDKs trim OWS", "Mcp-Method: tools/call", "Mcp-Name:  echo ")
	mh("Mcp-Name of a resources/read URI (control)", rpc("resources/read", `{"uri":"file:///docs/readme.md",`+meta26+`}`), 200, "", "Mcp-Method: resources/read", "Mcp-Name: file:///docs/readme.md")
	mh("Mcp-Param-* passes untouched (control)", rpc("tools/call", `{"name":"echo","arguments":{"text":"hi"},`+meta26+`}`), 200, "not validated, so forwarded as sent",
		"Mcp-Method: tools/call", "Mcp-Name: echo", "Mcp-Param-Text: =?base64?aGk=?=")
	last().check = upstreamHeader("Mcp-Param-Text", "=?base64?aGk=?=")
	mh("base64 Mcp-Name with non-zero padding bits", call26("echo"), 400,
		"strict base64, as the TypeScript SDK v2 decodes it (ZWNobx== is not echo)",
		"Mcp-Method: tools/call", "Mcp-Name: =?base64?ZWNobx==?=")

	// ---- absent-target: a missing target is no target; a wrong type stays 400 ----
	ab := func(name, body string, want int, note string, more ...string) {
		alice("absent-target", name, body, want, note, more...)
	}
	ab("tools/call with empty params", rpc("tools/call", `{}`), 200, "admin's allow * matches; the backend gives its own answer")
	ab("tools/call without params", rpc("tools/call", ""), 200, "")
	ab("prompts/get without name", rpc("prompts/get", `{"arguments":{}}`), 200, "")
	ab("resources/read without uri", rpc("resources/read", `{}`), 200, "")
	ab("resources/subscribe without uri under 2026-07-28", rpc("resources/subscribe", `{`+meta26+`}`), 200, "the issue's case: a stateless 2026 server answers 404 -32601 itself", hdr26)
	ab("resources/unsubscribe without uri", rpc("resources/unsubscribe", `{}`), 200, "")
	ab("skills/get without uri", rpc("skills/get", `{}`), 200, "")
	ab("resources/directory/read without uri", rpc("resources/directory/read", `{}`), 200, "")
	ab("completion/complete without ref", rpc("completion/complete", `{"argument":{"name":"a","value":""}}`), 200,
		"no ref is no target: the method's own rules decide (allow *), and the backend answers")
	ab("tasks/get without taskId", rpc("tasks/get", `{}`), 200, "")
	bob("absent-target", "subscriptions/listen without params (reader)", rpc("subscriptions/listen", ""), 200, "")
	bob("absent-target", "tools/call without name (reader)", rpc("tools/call", `{}`), 403, "the reader's rules all name tools: none matches no target")
	bob("absent-target", "resources/read without uri (reader)", rpc("resources/read", `{}`), 403, "")
	ab("params.name null", rpc("tools/call", `{"name":null}`), 400, "a target of the wrong type")
	ab("params.name empty", rpc("tools/call", `{"name":""}`), 400, "")
	ab("params.name an array", rpc("tools/call", `{"name":["echo"]}`), 400, "")
	ab("params.uri null", rpc("resources/read", `{"uri":null}`), 400, "")
	ab("params.uri a number", rpc("resources/subscribe", `{"uri":1}`), 400, "")
	ab("params.ref a string", rpc("completion/complete", `{"ref":"ref/prompt"}`), 400, "")
	ab("params.ref without type", rpc("completion/complete", `{"ref":{"name":"p"}}`), 400, "")
	ab("params.ref of type ref/prompt without name", rpc("completion/complete", `{"ref":{"type":"ref/prompt"},"argument":{"name":"a","value":""}}`), 200,
		"a ref without its name is no target either: forwarded, the backend answers")

	// ---- bound-ids: a task id or cursor the module did not hand to this caller reaches the backend as a fresh random value; a request state is refused ----
	bi := func(name, body string, note string, more ...string) {
		bob("bound-ids", name, body, 200, note, more...)
		last().check = upstreamLacks("victim")
	}
	bi("tasks/get of a foreign task id", rpc("tasks/get", `{"taskId":"victim-task-1"}`), "allowed on the caller's own tasks; this one opens to nothing")
	bi("tasks/get of a forged bound id", rpc("tasks/get", `{"taskId":"mcpt.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.victim-task-1"}`), "the MAC does not open")
	bi("tasks/cancel of a foreign task id", rpc("tasks/cancel", `{"taskId":"victim-task-1"}`), "")
	bi("tasks/get under 2026-07-28 with Mcp-Name", rpc("tasks/get", `{"taskId":"victim-task-1",`+meta26+`}`), "Mcp-Name follows the random id",
		hdr26, "Mcp-Method: tasks/get", "Mcp-Name: victim-task-1")
	last().check = allChecks(upstreamLacks("victim"), func(t *testing.T, _ rawResult, up []seenRequest) {
		if len(up) == 1 && !strings.Contains(string(up[0].Body), `"taskId":"`+up[0].Header.Get("Mcp-Name")+`"`) {
			t.Errorf("Mcp-Name %q upstream does not follow the body %s", up[0].Header.Get("Mcp-Name"), up[0].Body)
		}
	})
	bi("listen taskIds of a foreign task", listen(`{"taskIds":["victim-task-1"]}`), "no notifications of another caller's task", hdr26)
	bi("related-task of a foreign task", rpc("tools/call", `{"name":"echo","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"victim-task-1"}}}`), "")
	bi("a foreign list cursor", rpc("tools/list", `{"cursor":"victim-cursor"}`), "the backend's cursors are sealed to their caller and list")
	for _, c := range [][2]string{
		{"a foreign requestState", "victim-state"},
		{"a forged bound requestState", "mcps.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.victim-state"},
		{"a bound-looking state, suffixed", "mcps.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.victim-state-TAMPERED"},
	} {
		name, st := c[0], c[1]
		add(hcase{class: "bound-ids", name: name, req: postAs(bobTok, rpc("tools/call", `{"name":"echo","inputResponses":{},"requestState":"`+st+`"}`)),
			want: 400, by: byModule, forwarded: false, check: answerMentions(`"code":-32602`, "invalid requestState"),
			note: "a state that does not open is refused -32602 (the integrity check a server owes), never forwarded"})
	}

	// ---- min-version: the /strict route has min_protocol_version 2026-07-28 ----
	mv := func(name, body string, want int, note string, more ...string) {
		by, fwd := byModule, false
		if want < 300 {
			by, fwd = byCaddy, true
		}
		c := hcase{class: "min-version", name: name, req: build("POST", "/strict/mcp", append(hdrs{auth(bobTok), ctJSON}, more...), []byte(body)),
			want: want, by: by, forwarded: fwd, note: note}
		if want == 400 {
			c.check = answerMentions(`"code":-32022`)
		}
		add(c)
	}
	mv("no revision at all", call("echo"), 400, "a request naming none is 2025-03-26")
	mv("header 2025-11-25", call("echo"), 400, "", "MCP-Protocol-Version: 2025-11-25")
	mv("header and _meta 2025-11-25", metaCall("2025-11-25"), 400, "", "MCP-Protocol-Version: 2025-11-25")
	mv("unknown revision 2099-01-01 in header and _meta", metaCall("2099-01-01"), 400, "unknown revisions are refused while a minimum is set", "MCP-Protocol-Version: 2099-01-01")
	mv("initialize proposing 2025-06-18", rpc("initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`), 400, "")
	mv("_meta 2026-07-28 without the header", metaCall("2026-07-28"), 400, "the header check comes first: -32020")
	last().check = answerMentions(`"code":-32020`)
	mv("header and _meta 2026-07-28 (control)", metaCall("2026-07-28"), 200, "", hdr26)
	mv("server/discover under 2026-07-28 (control)", rpc("server/discover", `{`+meta26+`}`), 200, "", hdr26)
	mv("header 2026-07-28 without _meta (control)", call("echo"), 200, "the backend answers -32602 itself", hdr26)
	return cases
}

package wire

import (
	"strings"
	"testing"
)

func TestClassifyGood(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []Message
	}{
		{"tools/call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"x","Name":"y"}}}`,
			[]Message{{Kind: KindRequest, ID: []byte("1"), Action: Action{Method: "tools/call", Target: "echo", HasTarget: true}}}},
		{"string id kept byte for byte", `{"jsonrpc":"2.0","id":"a\u0062","method":"tools/list"}`,
			[]Message{{Kind: KindRequest, ID: []byte(`"a\u0062"`), Action: Action{Method: "tools/list"}}}},
		{"number id kept as sent", ` {"id":-900719925474099,"jsonrpc":"2.0","method":"ping"} `,
			[]Message{{Kind: KindRequest, ID: []byte("-900719925474099"), Action: Action{Method: "ping"}}}},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			[]Message{{Kind: KindNotification, Action: Action{Method: "notifications/initialized"}}}},
		{"response result", `{"jsonrpc":"2.0","id":"s1","result":{}}`,
			[]Message{{Kind: KindResponse, ID: []byte(`"s1"`)}}},
		{"response error with null id", `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}`,
			[]Message{{Kind: KindResponse, ID: []byte(`null`)}}},
		{"escaped method and name", `{"jsonrpc":"2.0","id":2,"method":"tools\/call","params":{"name":"del\u0065te_db"}}`,
			[]Message{{Kind: KindRequest, ID: []byte("2"), Action: Action{Method: "tools/call", Target: "delete_db", HasTarget: true}}}},
		{"resources/read", `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///docs/a.md"}}`,
			[]Message{{Kind: KindRequest, ID: []byte("3"), Action: Action{Method: "resources/read", Target: "file:///docs/a.md", HasTarget: true}}}},
		{"resources/subscribe", `{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"demo://r/1?x=y"}}`,
			[]Message{{Kind: KindRequest, ID: []byte("3"), Action: Action{Method: "resources/subscribe", Target: "demo://r/1?x=y", HasTarget: true}}}},
		{"prompts/get", `{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"summarize","arguments":{}}}`,
			[]Message{{Kind: KindRequest, ID: []byte("4"), Action: Action{Method: "prompts/get", Target: "summarize", HasTarget: true}}}},
		{"completion prompt", `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}}`,
			[]Message{{Kind: KindRequest, ID: []byte("5"), Action: Action{Method: "completion/complete", Target: "p", HasTarget: true, Ref: "ref/prompt"}}}},
		{"completion resource template literal", `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///docs/{path}/../x"},"argument":{"name":"path","value":""}}}`,
			[]Message{{Kind: KindRequest, ID: []byte("5"), Action: Action{Method: "completion/complete", Target: "file:///docs/{path}/../x", HasTarget: true, Ref: "ref/resource"}}}},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"}, {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}]`,
			[]Message{{Kind: KindRequest, ID: []byte("1"), Action: Action{Method: "tools/list"}}, {Kind: KindNotification, Action: Action{Method: "notifications/cancelled"}}}},
		{"unknown keys allowed", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"abc","_meta":{"progressToken":1}},"extra":true}`,
			[]Message{{Kind: KindRequest, ID: []byte("1"), Action: Action{Method: "tools/list"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			err := Classify([]byte(tt.body), &b)
			msgs := b.Msgs
			if err != nil {
				t.Fatalf("classify: %v", err)
			}
			if len(msgs) != len(tt.want) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(tt.want))
			}
			for i, m := range msgs {
				w := tt.want[i]
				if m.Kind != w.Kind || string(m.ID) != string(w.ID) || m.Action != w.Action {
					t.Errorf("message %d = {%v %s %+v}, want {%v %s %+v}", i, m.Kind, m.ID, m.Action, w.Kind, w.ID, w.Action)
				}
			}
		})
	}
}

func TestClassifyBad(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		code   int
		id     string // echoed id, "" for none
		inText string
	}{
		{"empty", ``, CodeParseError, "", "not valid JSON"},
		{"garbage", `{"jsonrpc":`, CodeParseError, "", "not valid JSON"},
		{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"ping"} x`, CodeParseError, "", "not valid JSON"},
		{"two objects", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`, CodeParseError, "", "not valid JSON"},
		{"BOM", "\ufeff{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", CodeParseError, "", "not valid JSON"},
		{"non-UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}", CodeParseError, "", "UTF-8"},
		{"UTF-16", "\xff\xfe{\x00}\x00", CodeParseError, "", "UTF-8"},
		{"not an object", `"tools/call"`, CodeInvalidRequest, "", "not a JSON-RPC message"},
		{"empty batch", `[]`, CodeInvalidRequest, "", "empty batch"},
		{"nested batch", `[[{"jsonrpc":"2.0","id":1,"method":"ping"}]]`, CodeInvalidRequest, "", "not an object"},
		{"case variant Method", `{"jsonrpc":"2.0","Method":"tools/call","method":"ping","id":1}`, CodeInvalidRequest, "1", `"Method" differs from "method" only in case`},
		{"unicode fold variant", `{"jsonrpc":"2.0","id":1,"method":"ping","param\u017f":{}}`, CodeInvalidRequest, "1", "only in case"},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`, CodeInvalidRequest, "1", `duplicate key "method"`},
		{"duplicate via escape", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"delete_db"}}`, CodeInvalidRequest, "1", `params: duplicate key "name"`},
		{"case variant name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","NAME":"delete_db"}}`, CodeInvalidRequest, "1", "only in case"},
		{"duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`, CodeInvalidRequest, "1", `duplicate key "params"`},
		{"duplicate unknown key", `{"jsonrpc":"2.0","id":1,"method":"ping","x":1,"x":2}`, CodeInvalidRequest, "1", `duplicate key "x"`},
		{"duplicate in ref", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a","name":"b"}}}`, CodeInvalidRequest, "1", `params.ref: duplicate key "name"`},
		{"params array", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["delete_db"]}`, CodeInvalidRequest, "1", "params must be an object"},
		{"missing jsonrpc", `{"id":1,"method":"ping"}`, CodeInvalidRequest, "1", `"jsonrpc" must be "2.0"`},
		{"wrong jsonrpc", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, CodeInvalidRequest, "1", `"jsonrpc" must be "2.0"`},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"tools/call","result":{}}`, CodeInvalidRequest, "1", "both method and result"},
		{"method not string", `{"jsonrpc":"2.0","id":1,"method":7}`, CodeInvalidRequest, "1", "method must be a non-empty string"},
		{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, CodeInvalidRequest, "1", "non-empty string"},
		{"duplicate id not echoed", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, CodeInvalidRequest, "", `duplicate key "id"`},
		{"id object", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, CodeInvalidRequest, "", "id must be a string or an integer"},
		{"fractional id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, CodeInvalidRequest, "", "integer within"},
		{"exponent id", `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, CodeInvalidRequest, "", "integer within"},
		{"id 1.0", `{"jsonrpc":"2.0","id":1.0,"method":"ping"}`, CodeInvalidRequest, "", "integer within"},
		{"id beyond 2^53", `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, CodeInvalidRequest, "", "integer within"},
		{"response with fractional id", `{"jsonrpc":"2.0","id":-1e-7,"result":{}}`, CodeInvalidRequest, "", "integer within"},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, CodeInvalidRequest, "", "id must be"},
		{"id null in request", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, CodeInvalidRequest, "", "id must be"},
		{"response without id", `{"jsonrpc":"2.0","result":{}}`, CodeInvalidRequest, "", "neither a request"},
		{"response with result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, CodeInvalidRequest, "1", "neither a request"},
		{"nothing", `{"jsonrpc":"2.0","id":1}`, CodeInvalidRequest, "1", "neither a request"},
		{"tools/call name number", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}`, CodeInvalidParams, "1", "needs params.name"},
		{"prompts/get empty name", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":""}}`, CodeInvalidParams, "1", "needs params.name"},
		{"resources/read dot segment", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/../etc/passwd"}}`, CodeInvalidParams, "1", "dot segment"},
		{"resources/read upper scheme", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"FILE:///private/x"}}`, CodeInvalidParams, "1", "scheme must be lower case"},
		{"completion bad ref type", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/tool","name":"x"}}}`, CodeInvalidParams, "1", "params.ref.type"},
		{"batch with bad element", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a","name":"b"}}]`, CodeInvalidRequest, "2", "duplicate"},
		{"batch over the bound", "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/progress"},`, MaxBatch) + `{"jsonrpc":"2.0","id":1,"method":"ping"}]`, CodeInvalidRequest, "", "at most 100 messages"},
		{"lone high surrogate in name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete\ud800"}}`, CodeInvalidParams, "1", "needs params.name"},
		{"lone low surrogate in method", `{"jsonrpc":"2.0","id":1,"method":"tools/c\udc00all"}`, CodeInvalidRequest, "1", "method must be"},
		{"lone surrogate in id", `{"jsonrpc":"2.0","id":"\udc00","method":"ping"}`, CodeInvalidRequest, "", "lone surrogate"},
		{"WHATWG rewrites file:/", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:/private/secrets.txt"}}`, CodeInvalidParams, "1", `send "file:///private/secrets.txt"`},
		{"WHATWG rewrites localhost", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file://localhost/private/secrets.txt"}}`, CodeInvalidParams, "1", `send "file:///private/secrets.txt"`},
		{"WHATWG default port", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"https://example.com:443/x"}}`, CodeInvalidParams, "1", `send "https://example.com/x"`},
		{"duplicate in _meta", `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"a","_meta":{"x":1,"x":2}}}`, CodeInvalidRequest, "1", `params._meta: duplicate key "x"`},
		{"case variant taskId", `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"a","taskid":"b"}}`, CodeInvalidRequest, "1", "only in case"},
		{"duplicate in related-task", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"a","taskId":"b"}}}}`, CodeInvalidRequest, "1", `related-task: duplicate key "taskId"`},
		{"taskId not a string", `{"jsonrpc":"2.0","id":1,"method":"tasks/result","params":{"taskId":7}}`, CodeInvalidParams, "1", "params.taskId must be a string"},
		{"listen subscription not canonical", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///docs/a","file:/private/x"]}}}`, CodeInvalidParams, "1", "canonical form"},
		{"listen subscription not a string", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[1]}}}`, CodeInvalidParams, "1", "array of resource URIs"},
		{"listen duplicate subscriptions key", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["file:///private/x"]}}}`, CodeInvalidRequest, "1", "params.notifications: duplicate key"},
		{"duplicate in inputResponses", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","inputResponses":{"k":1,"k":2}}}`, CodeInvalidRequest, "1", "params.inputResponses: duplicate"},
		{"skills/get not canonical", `{"jsonrpc":"2.0","id":1,"method":"skills/get","params":{"uri":"skill://x/../y"}}`, CodeInvalidParams, "1", "dot segment"},
		{"batch of non-objects", `[1,2]`, CodeInvalidRequest, "", "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			err := Classify([]byte(tt.body), &b)
			if err == nil {
				t.Fatal("classify accepted the body")
			}
			if err.Code != tt.code || string(err.ID) != tt.id || !strings.Contains(err.Msg, tt.inText) {
				t.Errorf("got {code %d id %q %q}, want {%d %q …%s…}", err.Code, err.ID, err.Msg, tt.code, tt.id, tt.inText)
			}
		})
	}
}

func TestURINormalForm(t *testing.T) {
	good := []string{
		"file:///docs/readme.md", "file:///docs/a%20b.md", "https://example.com/a/b?x=1#f", "demo://resource/static/document/x.md",
		"urn:isbn:0451450523", "https://user@example.com:8443/x", "file:///docs/", "mailto:a@example.com",
	}
	for _, u := range good {
		if why := rfc3986Problem(u); why != "" {
			t.Errorf("rfc3986Problem(%q) = %q, want normal", u, why)
		}
	}
	bad := map[string]string{
		"file:///docs/../etc/passwd":   "dot segment",
		"file:///docs/./a":             "dot segment",
		"file:///docs/..":              "dot segment",
		"file:///docs//a":              "empty path segment",
		"FILE:///private/x":            "scheme must be lower case",
		"File:///private/x":            "scheme must be lower case",
		"https://Example.com/x":        "host must be lower case",
		"file:///docs/%41.md":          "unreserved",
		"file:///docs/%2e%2e/x":        "percent-encoding must be",
		"file:///docs/%2E%2E/x":        "unreserved",
		"file:///docs/%7e":             "percent-encoding must be",
		"file:///docs/..%2Fetc/passwd": "separator",
		"file:///docs/..%5Cwin":        "separator",
		"file:///docs/a%00":            "separator or NUL",
		"file:///docs/a b":             "must be percent-encoded",
		"file:///docs\\..\\etc":        "must be percent-encoded",
		"file:///docs/%zz":             "percent-encoding",
		"/docs/readme.md":              "no scheme",
		"https://example.com:/x":       "empty port",
		"1file:///x":                   "invalid scheme",
		"file:///docs/\u00e9":          "must be percent-encoded",
	}
	for u, want := range bad {
		if why := rfc3986Problem(u); !strings.Contains(why, want) {
			t.Errorf("rfc3986Problem(%q) = %q, want …%s…", u, why, want)
		}
	}
}

// TestAbsentTargetIsNoTarget: a request whose target field is missing is
// judged as a request without a target; the backend gives its own answer.
func TestAbsentTargetIsNoTarget(t *testing.T) {
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/subscribe"}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{}}`,
	} {
		var b Body
		if err := Classify([]byte(body), &b); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if a := b.Msgs[0].Action; a.HasTarget || a.Target != "" {
			t.Errorf("%s: action %+v, want no target", body, a)
		}
	}
}

func TestClassifyFields(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t\u0031","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"r1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`
	var b Body
	if err := Classify([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	m := b.Msgs[0]
	if m.TaskID.Value != "t1" || body[m.TaskID.At.Start:m.TaskID.At.End] != `"t\u0031"` {
		t.Errorf("taskId %+v", m.TaskID)
	}
	if m.RelatedTask.Value != "r1" || m.Version != "2026-07-28" {
		t.Errorf("related %+v version %q", m.RelatedTask, m.Version)
	}
	body = `{"jsonrpc":"2.0","id":2,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///docs/a","db:x"]}}}`
	if err := Classify([]byte(body), &b); err != nil {
		t.Fatal(err)
	}
	if s := b.Msgs[0].Subscriptions; len(s) != 2 || s[0].Value != "file:///docs/a" || s[1].Value != "db:x" {
		t.Errorf("subscriptions %+v", s)
	}
	body = `{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`
	if err := Classify([]byte(body), &b); err != nil || b.Msgs[0].Version != "2025-06-18" {
		t.Errorf("initialize version %q %v", b.Msgs[0].Version, err)
	}
	body = `{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"cursor":"abc"}}`
	if err := Classify([]byte(body), &b); err != nil || b.Msgs[0].Cursor.Value != "abc" {
		t.Errorf("cursor %+v %v", b.Msgs[0].Cursor, err)
	}
	body = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","task":{"ttl":1000}}}`
	if err := Classify([]byte(body), &b); err != nil || !b.Msgs[0].Task {
		t.Errorf("task %v %v", b.Msgs[0].Task, err)
	}
	// A batch at the bound is accepted.
	body = "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/progress"},`, MaxBatch-1) + `{"jsonrpc":"2.0","id":1,"method":"ping"}]`
	if err := Classify([]byte(body), &b); err != nil || len(b.Msgs) != MaxBatch {
		t.Errorf("batch of %d: %v", MaxBatch, err)
	}
}

func TestURICanonical(t *testing.T) {
	for _, u := range []string{"file:///docs/readme.md", "db:orders", "mem:x/y", "demo://resource/static/document/features.md",
		"https://example.com/", "urn:isbn:1", "file:///C:/x", "ui://widget"} {
		if why := URIProblem(u); why != "" {
			t.Errorf("URIProblem(%q) = %q, want canonical", u, why)
		}
	}
	for u, want := range map[string]string{
		"file:/private/secrets.txt":            "file:///private/secrets.txt",
		"file://localhost/private/secrets.txt": "file:///private/secrets.txt",
		"https:example.com/a":                  "https://example.com/a",
		"https:/example.com/a":                 "https://example.com/a",
		"https://example.com:443/a":            "https://example.com/a",
		"http://example.com:80/a":              "http://example.com/a",
		"https://example.com":                  "https://example.com/",
		"file:///a|b":                          "",
	} {
		why := URIProblem(u)
		if why == "" || (want != "" && !strings.Contains(why, Quote(want))) {
			t.Errorf("URIProblem(%q) = %q, want a refusal naming %q", u, why, want)
		}
	}
}

func TestClassifyAmbiguities(t *testing.T) {
	for _, tc := range []struct {
		body  string
		class ErrClass
	}{
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}]`, ErrAmbiguous},
		{`[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","id":"\u0061","method":"ping"}]`, ErrAmbiguous},
		{`[{"jsonrpc":"2.0","id":0,"method":"ping"},{"jsonrpc":"2.0","id":-0,"method":"ping"}]`, ErrAmbiguous},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\ud800"}}`, ErrAmbiguous},
		{`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a\udc00"}}`, ErrAmbiguous},
		{`{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"\ud800"}}`, ErrAmbiguous},
		{`{"jsonrpc":"2.0","id":1,"method":"p\ud800"}`, ErrAmbiguous},
	} {
		err := Classify([]byte(tc.body), new(Body))
		if err == nil || err.Class != tc.class {
			t.Errorf("%s: %+v, want class %d", tc.body, err, tc.class)
		}
	}
	// A response may share a request's id (it answers the server), and
	// ids of different types differ.
	for _, body := range []string{
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":1,"result":{}}]`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":"1","method":"ping"}]`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"argument":{"name":"a","value":""}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt"}}}`,
	} {
		if err := Classify([]byte(body), new(Body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}

package mcpauth

import (
	"strings"
	"testing"
)

func TestClassifyGood(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []message
	}{
		{"tools/call", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"x","Name":"y"}}}`,
			[]message{{kind: kindRequest, id: []byte("1"), action: Action{Method: "tools/call", Target: "echo", HasTarget: true}}}},
		{"string id kept byte for byte", `{"jsonrpc":"2.0","id":"a\u0062","method":"tools/list"}`,
			[]message{{kind: kindRequest, id: []byte(`"a\u0062"`), action: Action{Method: "tools/list"}}}},
		{"number id kept as sent", ` {"id":-900719925474099,"jsonrpc":"2.0","method":"ping"} `,
			[]message{{kind: kindRequest, id: []byte("-900719925474099"), action: Action{Method: "ping"}}}},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			[]message{{kind: kindNotification, action: Action{Method: "notifications/initialized"}}}},
		{"response result", `{"jsonrpc":"2.0","id":"s1","result":{}}`,
			[]message{{kind: kindResponse, id: []byte(`"s1"`)}}},
		{"response error with null id", `{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}`,
			[]message{{kind: kindResponse, id: []byte(`null`)}}},
		{"escaped method and name", `{"jsonrpc":"2.0","id":2,"method":"tools\/call","params":{"name":"del\u0065te_db"}}`,
			[]message{{kind: kindRequest, id: []byte("2"), action: Action{Method: "tools/call", Target: "delete_db", HasTarget: true}}}},
		{"resources/read", `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///docs/a.md"}}`,
			[]message{{kind: kindRequest, id: []byte("3"), action: Action{Method: "resources/read", Target: "file:///docs/a.md", HasTarget: true}}}},
		{"resources/subscribe", `{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"demo://r/1?x=y"}}`,
			[]message{{kind: kindRequest, id: []byte("3"), action: Action{Method: "resources/subscribe", Target: "demo://r/1?x=y", HasTarget: true}}}},
		{"prompts/get", `{"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"summarize","arguments":{}}}`,
			[]message{{kind: kindRequest, id: []byte("4"), action: Action{Method: "prompts/get", Target: "summarize", HasTarget: true}}}},
		{"completion prompt", `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":""}}}`,
			[]message{{kind: kindRequest, id: []byte("5"), action: Action{Method: "completion/complete", Target: "p", HasTarget: true, Ref: "ref/prompt"}}}},
		{"completion resource template literal", `{"jsonrpc":"2.0","id":5,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///docs/{path}/../x"},"argument":{"name":"path","value":""}}}`,
			[]message{{kind: kindRequest, id: []byte("5"), action: Action{Method: "completion/complete", Target: "file:///docs/{path}/../x", HasTarget: true, Ref: "ref/resource"}}}},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/list"}, {"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}]`,
			[]message{{kind: kindRequest, id: []byte("1"), action: Action{Method: "tools/list"}}, {kind: kindNotification, action: Action{Method: "notifications/cancelled"}}}},
		{"unknown keys allowed", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"abc","_meta":{"progressToken":1}},"extra":true}`,
			[]message{{kind: kindRequest, id: []byte("1"), action: Action{Method: "tools/list"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, msgs, err := classify([]byte(tt.body))
			if err != nil {
				t.Fatalf("classify: %v", err)
			}
			if len(msgs) != len(tt.want) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(tt.want))
			}
			for i, m := range msgs {
				w := tt.want[i]
				if m.kind != w.kind || string(m.id) != string(w.id) || m.action != w.action {
					t.Errorf("message %d = {%v %s %+v}, want {%v %s %+v}", i, m.kind, m.id, m.action, w.kind, w.id, w.action)
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
		{"empty", ``, codeParseError, "", "not valid JSON"},
		{"garbage", `{"jsonrpc":`, codeParseError, "", "not valid JSON"},
		{"trailing garbage", `{"jsonrpc":"2.0","id":1,"method":"ping"} x`, codeParseError, "", "not valid JSON"},
		{"two objects", `{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}`, codeParseError, "", "not valid JSON"},
		{"BOM", "\ufeff{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", codeParseError, "", "not valid JSON"},
		{"non-UTF-8", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}", codeParseError, "", "UTF-8"},
		{"UTF-16", "\xff\xfe{\x00}\x00", codeParseError, "", "UTF-8"},
		{"not an object", `"tools/call"`, codeInvalidRequest, "", "not a JSON-RPC message"},
		{"empty batch", `[]`, codeInvalidRequest, "", "empty batch"},
		{"nested batch", `[[{"jsonrpc":"2.0","id":1,"method":"ping"}]]`, codeInvalidRequest, "", "not an object"},
		{"case variant Method", `{"jsonrpc":"2.0","Method":"tools/call","method":"ping","id":1}`, codeInvalidRequest, "1", `"Method" differs from "method" only in case`},
		{"unicode fold variant", `{"jsonrpc":"2.0","id":1,"method":"ping","param\u017f":{}}`, codeInvalidRequest, "1", "only in case"},
		{"duplicate method", `{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}`, codeInvalidRequest, "1", `duplicate key "method"`},
		{"duplicate via escape", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","n\u0061me":"delete_db"}}`, codeInvalidRequest, "1", `params: duplicate key "name"`},
		{"case variant name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","NAME":"delete_db"}}`, codeInvalidRequest, "1", "only in case"},
		{"duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}`, codeInvalidRequest, "1", `duplicate key "params"`},
		{"duplicate unknown key", `{"jsonrpc":"2.0","id":1,"method":"ping","x":1,"x":2}`, codeInvalidRequest, "1", `duplicate key "x"`},
		{"duplicate in ref", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a","name":"b"}}}`, codeInvalidRequest, "1", `params.ref: duplicate key "name"`},
		{"params array", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["delete_db"]}`, codeInvalidRequest, "1", "params must be an object"},
		{"missing jsonrpc", `{"id":1,"method":"ping"}`, codeInvalidRequest, "1", `"jsonrpc" must be "2.0"`},
		{"wrong jsonrpc", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, codeInvalidRequest, "1", `"jsonrpc" must be "2.0"`},
		{"method and result", `{"jsonrpc":"2.0","id":1,"method":"tools/call","result":{}}`, codeInvalidRequest, "1", "both method and result"},
		{"method not string", `{"jsonrpc":"2.0","id":1,"method":7}`, codeInvalidRequest, "1", "method must be a non-empty string"},
		{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, codeInvalidRequest, "1", "non-empty string"},
		{"duplicate id not echoed", `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, codeInvalidRequest, "", `duplicate key "id"`},
		{"id object", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, codeInvalidRequest, "", "id must be a string or an integer"},
		{"fractional id", `{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, codeInvalidRequest, "", "integer within"},
		{"exponent id", `{"jsonrpc":"2.0","id":1e3,"method":"ping"}`, codeInvalidRequest, "", "integer within"},
		{"id 1.0", `{"jsonrpc":"2.0","id":1.0,"method":"ping"}`, codeInvalidRequest, "", "integer within"},
		{"id beyond 2^53", `{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}`, codeInvalidRequest, "", "integer within"},
		{"response with fractional id", `{"jsonrpc":"2.0","id":-1e-7,"result":{}}`, codeInvalidRequest, "", "integer within"},
		{"id bool", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, codeInvalidRequest, "", "id must be"},
		{"id null in request", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, codeInvalidRequest, "", "id must be"},
		{"response without id", `{"jsonrpc":"2.0","result":{}}`, codeInvalidRequest, "", "neither a request"},
		{"response with result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, codeInvalidRequest, "1", "neither a request"},
		{"nothing", `{"jsonrpc":"2.0","id":1}`, codeInvalidRequest, "1", "neither a request"},
		{"tools/call without name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, codeInvalidParams, "1", "needs params.name"},
		{"tools/call without params", `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`, codeInvalidParams, "1", "needs params.name"},
		{"tools/call name number", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}`, codeInvalidParams, "1", "needs params.name"},
		{"prompts/get empty name", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":""}}`, codeInvalidParams, "1", "needs params.name"},
		{"resources/read no uri", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"name":"x"}}`, codeInvalidParams, "1", "needs params.uri"},
		{"resources/read dot segment", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/../etc/passwd"}}`, codeInvalidParams, "1", "dot segment"},
		{"resources/read upper scheme", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"FILE:///private/x"}}`, codeInvalidParams, "1", "scheme must be lower case"},
		{"completion bad ref type", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/tool","name":"x"}}}`, codeInvalidParams, "1", "params.ref.type"},
		{"completion no ref", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{}}`, codeInvalidParams, "1", "needs params.ref"},
		{"batch with bad element", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a","name":"b"}}]`, codeInvalidRequest, "2", "duplicate"},
		{"batch of non-objects", `[1,2]`, codeInvalidRequest, "", "not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := classify([]byte(tt.body))
			if err == nil {
				t.Fatal("classify accepted the body")
			}
			if err.code != tt.code || err.status != 400 || string(err.id) != tt.id || !strings.Contains(err.msg, tt.inText) {
				t.Errorf("got {status %d code %d id %q %q}, want {400 %d %q …%s…}", err.status, err.code, err.id, err.msg, tt.code, tt.id, tt.inText)
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
		if why := uriNotNormal(u); why != "" {
			t.Errorf("uriNotNormal(%q) = %q, want normal", u, why)
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
		if why := uriNotNormal(u); !strings.Contains(why, want) {
			t.Errorf("uriNotNormal(%q) = %q, want …%s…", u, why, want)
		}
	}
}

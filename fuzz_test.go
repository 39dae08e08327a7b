package mcpauth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// FuzzClassify checks that the classifier never panics and that whatever it
// accepts, encoding/json reads the same method, id and target.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		callEcho, callDelete,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/a"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","n\u0061me":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, msgs, err := classify(body)
		if err != nil {
			if err.status != 400 || err.code > -32600 && err.code != codeInvalidParams {
				t.Fatalf("odd refusal %+v", err)
			}
			return
		}
		var raw []map[string]json.RawMessage
		if batch {
			if json.Unmarshal(body, &raw) != nil {
				t.Fatal("accepted a batch encoding/json cannot read")
			}
		} else {
			var one map[string]json.RawMessage
			if json.Unmarshal(body, &one) != nil {
				t.Fatal("accepted a message encoding/json cannot read")
			}
			raw = append(raw, one)
		}
		if len(raw) != len(msgs) {
			t.Fatalf("%d messages, encoding/json sees %d", len(msgs), len(raw))
		}
		for i, m := range msgs {
			var method string
			_ = json.Unmarshal(raw[i]["method"], &method)
			if method != m.action.Method {
				t.Fatalf("method %q, encoding/json reads %q", m.action.Method, method)
			}
			if m.id != nil && string(m.id) != string(raw[i]["id"]) {
				t.Fatalf("id %s, encoding/json sees %s", m.id, raw[i]["id"])
			}
			if m.action.HasTarget && m.action.Ref == "" {
				var params struct {
					Name string `json:"name"`
					URI  string `json:"uri"`
				}
				_ = json.Unmarshal(raw[i]["params"], &params)
				if m.action.Target != params.Name && m.action.Target != params.URI {
					t.Fatalf("target %q, encoding/json reads name %q uri %q", m.action.Target, params.Name, params.URI)
				}
			}
		}
	})
}

func FuzzParseCredential(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic x", "abc", "Bearer", "Bearer a b", "\t"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, bearer bool) {
		tok, st := parseCredential([]string{v}, bearer)
		if st == credOK {
			if tok == "" || strings.ContainsAny(tok, " \t") && bearer {
				t.Fatalf("token %q from %q", tok, v)
			}
			for i := 0; i < len(tok); i++ {
				if tok[i] < 0x20 || tok[i] >= 0x7f {
					t.Fatalf("control or non-ASCII byte in token %q", tok)
				}
			}
		} else if tok != "" {
			t.Fatalf("a refusal returned a token")
		}
	})
}

func FuzzCaddyfile(f *testing.F) {
	f.Add("mcp_auth {\n token a s r\n role r {\n allow tools/call x*\n deny *\n }\n max_body 1MiB\n}")
	f.Add("mcp_auth {\n token_file /x\n header X-K\n invalid_token 401\n}")
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Fuzzfile")
		if err != nil {
			return
		}
		var m MCPAuth
		_ = m.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
	})
}

func FuzzTokenFile(f *testing.F) {
	f.Add("alice s3cret admin\n# c\n\nbob sha256:" + strings.Repeat("ab", 32) + " reader\n")
	f.Fuzz(func(t *testing.T, text string) {
		toks, err := parseTokenFile(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, tok := range toks {
			if tok.Name == "" || tok.Secret == "" || len(tok.Roles) == 0 {
				t.Fatalf("incomplete token %+v", tok)
			}
		}
	})
}

// validJSONCorpus are grammar corner cases where validators have differed.
var validJSONCorpus = []string{
	`{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5e-3, -0, true, false, null, "x"]} `,
	`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `-Infinity`,
	`{"a":1,}`, `[1,]`, `{,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `{"a":1}}`, `[[]`,
	"\"\x01\"", "\"\t\"", `"\x"`, `"\u00"`, `"\ud800"`, `"\udc00\ud800"`, `"\u0000"`, `"\/"`,
	"{\"a\":1}\f", "{\"a\":1}\v", "\u00a0{}", `"` + "\xff" + `"`, `{"a":1}/*c*/`, `true false`, ``, ` `,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validJSONCorpus {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	if validJSON([]byte(deep)) || json.Valid([]byte(deep)) {
		t.Error("10,001 levels of nesting accepted")
	}
	ok := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if !validJSON([]byte(ok)) || !json.Valid([]byte(ok)) {
		t.Error("10,000 levels of nesting refused")
	}
}

// FuzzValidJSON: the fast validator accepts exactly what encoding/json
// accepts.
func FuzzValidJSON(f *testing.F) {
	for _, s := range validJSONCorpus {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

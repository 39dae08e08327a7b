package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzClassify checks that the classifier never panics and that whatever it
// accepts, encoding/json reads the same method, id and target.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}`,
		`{"jsonrpc":"2.0","id":"req-\u0031","method":"tools/call","params":{"name":"delete_db"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
		`{"jsonrpc":"2.0","id":"x","result":{}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///docs/a"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","n\u0061me":"b"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b Body
		err := Classify(body, &b)
		batch, msgs := b.Batch, b.Msgs
		if err != nil {
			if err.Code > -32600 && err.Code != CodeInvalidParams {
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
			if method != m.Action.Method {
				t.Fatalf("method %q, encoding/json reads %q", m.Action.Method, method)
			}
			if m.ID != nil && string(m.ID) != string(raw[i]["id"]) {
				t.Fatalf("id %s, encoding/json sees %s", m.ID, raw[i]["id"])
			}
			if m.Action.HasTarget && m.Action.Ref == "" {
				var params struct {
					Name string `json:"name"`
					URI  string `json:"uri"`
				}
				_ = json.Unmarshal(raw[i]["params"], &params)
				if m.Action.Target != params.Name && m.Action.Target != params.URI {
					t.Fatalf("target %q, encoding/json reads name %q uri %q", m.Action.Target, params.Name, params.URI)
				}
			}
		}
	})
}

var validJSONCorpus = []string{
	`{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5e-3, -0, true, false, null, "x"]} `,
	`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`, `-Infinity`,
	`{"a":1,}`, `[1,]`, `{,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{'a':1}`, `{"a":1}}`, `[[]`,
	"\"\x01\"", "\"\t\"", `"\x"`, `"\u00"`, `"\ud800"`, `"\udc00\ud800"`, `"\u0000"`, `"\/"`,
	"{\"a\":1}\f", "{\"a\":1}\v", "\u00a0{}", `"` + "\xff" + `"`, `{"a":1}/*c*/`, `true false`, ``, ` `,
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validJSONCorpus {
		if got, want := ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("ValidJSON(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	if ValidJSON([]byte(deep)) || json.Valid([]byte(deep)) {
		t.Error("10,001 levels of nesting accepted")
	}
	ok := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if !ValidJSON([]byte(ok)) || !json.Valid([]byte(ok)) {
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
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

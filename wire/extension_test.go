package wire

import (
	"strings"
	"testing"
)

func TestClassifyWith(t *testing.T) {
	ext := Extensions{"x/search": TargetName, "x/read": TargetURI}
	tests := []struct {
		name string
		body string
		want []Action
		err  string
	}{
		{"name target", `{"jsonrpc":"2.0","id":1,"method":"x/search","params":{"name":"docs_a","uri":"file:///x"}}`,
			[]Action{{Method: "x/search", Target: "docs_a", HasTarget: true}}, ""},
		{"uri target", `{"jsonrpc":"2.0","id":1,"method":"x/read","params":{"name":"n","uri":"file:///docs/a"}}`,
			[]Action{{Method: "x/read", Target: "file:///docs/a", HasTarget: true}}, ""},
		{"escaped target", `{"jsonrpc":"2.0","id":1,"method":"x/search","params":{"n\u0061me":"del\u0065te"}}`,
			[]Action{{Method: "x/search", Target: "delete", HasTarget: true}}, ""},
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"x/search"}`, []Action{{Method: "x/search"}}, ""},
		{"undeclared unknown method has no target", `{"jsonrpc":"2.0","id":1,"method":"x/other","params":{"name":"a"}}`,
			[]Action{{Method: "x/other"}}, ""},
		{"known methods unchanged", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}},{"jsonrpc":"2.0","id":2,"method":"x/read","params":{"uri":"demo://r/1"}},{"jsonrpc":"2.0","id":3,"result":{}}]`,
			[]Action{{Method: "tools/call", Target: "echo", HasTarget: true}, {Method: "x/read", Target: "demo://r/1", HasTarget: true}, {}}, ""},
		{"notification of a declared method", `{"jsonrpc":"2.0","method":"x/search","params":{"name":"a"}}`,
			[]Action{{Method: "x/search", Target: "a", HasTarget: true}}, ""},
		{"uri not canonical", `{"jsonrpc":"2.0","id":7,"method":"x/read","params":{"uri":"file:///docs/../etc/passwd"}}`, nil, "resource URI is not in normal form"},
		{"empty name", `{"jsonrpc":"2.0","id":7,"method":"x/search","params":{"name":""}}`, nil, "x/search needs params.name, a non-empty string"},
		{"name not a string", `[{"jsonrpc":"2.0","id":1,"method":"x/search","params":{"name":"a"}},{"jsonrpc":"2.0","id":7,"method":"x/search","params":{"name":1}}]`, nil, "x/search needs params.name"},
		{"duplicate key still refused by Classify", `{"jsonrpc":"2.0","id":7,"method":"x/search","params":{"name":"a","name":"b"}}`, nil, "invalid request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Body
			err := ClassifyWith([]byte(tt.body), &b, ext)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Msg, tt.err) {
					t.Fatalf("err = %v, want …%s…", err, tt.err)
				}
				if strings.Contains(tt.body, `"id":7`) && string(err.ID) != "7" {
					t.Errorf("error id %s, want 7", err.ID)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Msgs) != len(tt.want) {
				t.Fatalf("%d messages, want %d", len(b.Msgs), len(tt.want))
			}
			for i, m := range b.Msgs {
				if m.Action != tt.want[i] {
					t.Errorf("message %d: %+v, want %+v", i, m.Action, tt.want[i])
				}
				if m.Action.HasTarget {
					if raw := tt.body[m.TargetAt.Start:m.TargetAt.End]; !strings.HasPrefix(raw, `"`) {
						t.Errorf("message %d: TargetAt holds %s", i, raw)
					}
				}
			}
		})
	}
	// Without declarations ClassifyWith is Classify.
	var a, b Body
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"x/search","params":{"name":"a"}}`)
	if e1, e2 := Classify(body, &a), ClassifyWith(body, &b, nil); e1 != nil || e2 != nil || a.Msgs[0].Action != b.Msgs[0].Action {
		t.Errorf("ClassifyWith(nil) differs from Classify: %+v %+v", a.Msgs[0].Action, b.Msgs[0].Action)
	}
}

// FuzzClassifyWith: declaring extension methods changes nothing but the
// targets of their messages, and a body Classify refuses stays refused.
func FuzzClassifyWith(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"x/a","params":{"name":"n"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"x/b","params":{"uri":"file:///a"}},{"jsonrpc":"2.0","id":2,"result":{}}]`,
		`{"jsonrpc":"2.0","method":"x/a","params":{"name":1}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"n"}}`,
	} {
		f.Add([]byte(s))
	}
	ext := Extensions{"x/a": TargetName, "x/b": TargetURI}
	f.Fuzz(func(t *testing.T, body []byte) {
		var plain, with Body
		e1 := Classify(body, &plain)
		e2 := ClassifyWith(body, &with, ext)
		if e1 != nil {
			if e2 == nil || e2.Msg != e1.Msg {
				t.Fatalf("Classify refused (%v), ClassifyWith said %v", e1, e2)
			}
			return
		}
		if e2 != nil {
			if e2.Class != ErrParams && e2.Class != ErrNotCanonical {
				t.Fatalf("ClassifyWith refused a body Classify accepts with %v", e2)
			}
			return
		}
		for i := range plain.Msgs {
			p, w := plain.Msgs[i].Action, with.Msgs[i].Action
			if _, declared := ext[p.Method]; declared && plain.Msgs[i].Kind != KindResponse {
				p.Target, p.HasTarget = w.Target, w.HasTarget
			}
			if p != w {
				t.Fatalf("message %d: %+v, Classify said %+v", i, w, plain.Msgs[i].Action)
			}
		}
	})
}

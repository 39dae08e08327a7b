package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// testPolicy and testBinder are the hooks as functions.
type testPolicy struct {
	use       func(use, item string) bool
	subscribe func(uri string) bool
	list      func(list string) bool
}

func (p testPolicy) MayUse(use, item string) bool {
	return p.use == nil || p.use(use, item)
}
func (p testPolicy) MaySubscribe(uri string) bool { return p.subscribe == nil || p.subscribe(uri) }
func (p testPolicy) MayList(list string) bool     { return p.list == nil || p.list(list) }

type testBinder struct {
	cursor func(list, c string) string
	task   func(id string) string
	keep   func(id string) bool
}

func (b testBinder) Cursor(list, c string) (string, bool) { return b.cursor(list, c), b.cursor != nil }
func (b testBinder) Task(id string) (string, bool)        { return b.task(id), true }
func (b testBinder) KeepTask(id string) bool              { return b.keep(id) }
func (b testBinder) State(st string) (string, bool)       { return "s." + st, true }
func (b testBinder) Unhide(tok string) (string, bool) {
	return `say "hi"`, tok == HiddenMarker+"dGVzdA"
}

// readerMayUse is the reader of the root package's test roles: tools
// search_docs and get_*, resources under file:///docs/, every prompt.
func readerMayUse(use, item string) bool {
	switch use {
	case "tools/call":
		return item == "search_docs" || strings.HasPrefix(item, "get_")
	case "resources/read":
		return strings.HasPrefix(item, "file:///docs/")
	case "prompts/get":
		return true
	}
	return false
}

// rewrite applies the rewriter to one message and returns the result.
func rewrite(t testing.TB, rw *Rewriter, in string) (string, bool, error) {
	t.Helper()
	edits, drop, err := rw.Message([]byte(in), nil)
	if err != nil || drop {
		return "", drop, err
	}
	out := edits.Apply(nil, []byte(in))
	if len(out) != edits.Size([]byte(in)) {
		t.Fatalf("Size %d, Apply wrote %d", edits.Size([]byte(in)), len(out))
	}
	var w bytes.Buffer
	if err := edits.WriteTo(&w, []byte(in)); err != nil || w.String() != string(out) {
		t.Fatalf("WriteTo wrote %q, Apply %q", w.String(), out)
	}
	if !ValidJSON(out) {
		t.Fatalf("rewritten message is not JSON: %s", out)
	}
	return string(out), false, nil
}

const private = `"cacheScope":"private",`

func TestFilterLists(t *testing.T) {
	rw := &Rewriter{Policy: testPolicy{use: readerMayUse}}
	tests := []struct{ name, in, want string }{
		{"tools with cursor and meta kept",
			`{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"get_a","inputSchema":{}},{"name":"delete_db"},{"name":"search_docs","x":[1,{"name":"delete_db"}]}],"nextCursor":"c2","_meta":{"k":1},"zz":true}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[{"name":"get_a","inputSchema":{}},{"name":"search_docs","x":[1,{"name":"delete_db"}]}],"nextCursor":"c2","_meta":{"k":1},"zz":true}}`},
		{"nothing to drop keeps the bytes, marked private",
			`{"jsonrpc":"2.0","id":3,"result":{"tools":[ {"name":"get_a"} ]}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[ {"name":"get_a"} ]}}`},
		{"escaped name judged decoded",
			`{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"del\u0065te_db"},{"name":"get_\u0061"}]}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[{"name":"get_\u0061"}]}}`},
		{"items without a name dropped",
			`{"jsonrpc":"2.0","id":3,"result":{"tools":[{"title":"x"},{"name":5},"get_a",{"name":"get_b"}]}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[{"name":"get_b"}]}}`},
		{"all dropped", `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"rm"}, {"name":"rm2"}]}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[]}}`},
		{"first and last dropped", `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"rm"},{"name":"get_a"},{"name":"x"},{"name":"get_b"},{"name":"y"},{"name":"z"}]}}`,
			`{"jsonrpc":"2.0","id":3,"result":{` + private + `"tools":[{"name":"get_a"},{"name":"get_b"}]}}`},
		{"resources by uri",
			`{"jsonrpc":"2.0","id":"r","result":{"resources":[{"uri":"file:///docs/a","name":"a"},{"uri":"file:///private/x","name":"x"}]}}`,
			`{"jsonrpc":"2.0","id":"r","result":{` + private + `"resources":[{"uri":"file:///docs/a","name":"a"}]}}`},
		{"a resource URI that is not canonical is hidden",
			`{"jsonrpc":"2.0","id":"r","result":{"resources":[{"uri":"file:/docs/a","name":"a"},{"uri":"file:///docs/b"}]}}`,
			`{"jsonrpc":"2.0","id":"r","result":{` + private + `"resources":[{"uri":"file:///docs/b"}]}}`},
		{"templates literally",
			`{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"d"},{"uriTemplate":"file:///{dir}/x","name":"p"}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{` + private + `"resourceTemplates":[{"uriTemplate":"file:///docs/{path}","name":"d"}]}}`},
		{"prompts all allowed for reader",
			`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"a"},{"name":"b"}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{` + private + `"prompts":[{"name":"a"},{"name":"b"}]}}`},
		{"cacheScope public becomes private, ttlMs kept",
			`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"a"}],"ttlMs":5000,"cacheScope":"public"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"a"}],"ttlMs":5000,"cacheScope":"private"}}`},
		{"skills by uri",
			`{"jsonrpc":"2.0","id":1,"result":{"skills":[{"name":"a","uri":"file:///docs/skill"},{"name":"b","uri":"file:///private/skill"}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{` + private + `"skills":[{"name":"a","uri":"file:///docs/skill"}]}}`},
		{"batch of responses",
			`[{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"},{"name":"get_x"}]}},{"jsonrpc":"2.0","id":2,"result":{}}]`,
			`[{"jsonrpc":"2.0","id":1,"result":{` + private + `"tools":[{"name":"get_x"}]}},{"jsonrpc":"2.0","id":2,"result":{}}]`},
		{"a tools/call result is not a list",
			`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"\"tools\""}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"\"tools\""}]}}`},
		{"a request carrying tools is not filtered",
			`{"jsonrpc":"2.0","id":1,"method":"x","result":{"tools":[{"name":"rm"}]}}`,
			`{"jsonrpc":"2.0","id":1,"method":"x","result":{"tools":[{"name":"rm"}]}}`},
		{"an item with two names is dropped, whatever either says",
			`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a","name":"rm"},{"name":"get_b"}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{` + private + `"tools":[{"name":"get_b"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := rewrite(t, rw, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	for _, bad := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a"}],"tools":[{"name":"rm"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a"}],"Tools":[{"name":"rm"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"rm"}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"}]}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[]},"result":{"tools":[{"name":"rm"}]}}`,
	} {
		if out, _, err := rw.Message([]byte(bad), nil); err == nil {
			t.Errorf("Message(%s) = %v, want a refusal", bad, out)
		}
	}
}

func TestRewriteCursorAndTasks(t *testing.T) {
	rw := &Rewriter{
		Policy: testPolicy{use: readerMayUse},
		Binder: testBinder{
			cursor: func(list, c string) string { return "sealed:" + list + ":" + c },
			task:   func(id string) string { return "w." + id },
			keep:   func(id string) bool { return id != "other" },
		},
	}
	for _, tt := range []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":"abc"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{` + private + `"tools":[],"nextCursor":"sealed:tools/list:abc"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t1","status":"working"}}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"w.t1","status":"working"}}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"taskId":"t1","status":"completed"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"taskId":"w.t1","status":"completed"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"other"},{"taskId":"t1"},{"taskId":"t2"}]}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"w.t1"},{"taskId":"w.t2"}]}}`},
		{`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"t1","status":"done"}}`,
			`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"w.t1","status":"done"}}`},
		{`{"jsonrpc":"2.0","id":9,"method":"elicitation/create","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t1"}}}}`,
			`{"jsonrpc":"2.0","id":9,"method":"elicitation/create","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"w.t1"}}}}`},
		{`{"jsonrpc":"2.0","id":9,"method":"tasks/get","params":{"taskId":"client-minted"}}`,
			`{"jsonrpc":"2.0","id":9,"method":"tasks/get","params":{"taskId":"client-minted"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{},"requestState":"abc"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{},"requestState":"s.abc"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"resultType":"task","taskId":"t1","status":"working"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"task","taskId":"w.t1","status":"working"}}`},
		{`{"jsonrpc":"2.0","method":"notifications/tasks","params":{"taskId":"t1","status":"completed"}}`,
			`{"jsonrpc":"2.0","method":"notifications/tasks","params":{"taskId":"w.t1","status":"completed"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"t1"}],"nextCursor":"n"}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"taskId":"w.t1"}],"nextCursor":"sealed:tasks/list:n"}}`},
		{`{"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t1"}}}}`,
			`{"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"w.t1"}}}}`},
	} {
		got, _, err := rewrite(t, rw, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("in   %s\ngot  %s (%v)\nwant %s", tt.in, got, err, tt.want)
		}
	}
	if _, _, err := rw.Message([]byte(`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"a","taskId":"b"}}}`), nil); err == nil {
		t.Error("a task with two taskIds passed")
	}
}

func TestRewriteNotifications(t *testing.T) {
	rw := &Rewriter{Policy: testPolicy{
		subscribe: func(uri string) bool { return strings.HasPrefix(uri, "file:///docs/") },
		list:      func(list string) bool { return list == "tools/list" },
	}}
	for _, tt := range []struct {
		in, want string
		drop     bool
	}{
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///docs/a"}}`, `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///docs/a"}}`, false},
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///private/a"}}`, "", true},
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:/docs/a"}}`, "", true},
		{`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}`, "", true},
		{`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"l1"},"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///private/a","file:///docs/a","file:///private/b"]}}}`,
			`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"l1"},"notifications":{"toolsListChanged":true,"resourceSubscriptions":["file:///docs/a"]}}}`, false},
		{`{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, false},
		{`{"jsonrpc":"2.0","method":"notifications/prompts/list_changed"}`, "", true},
		{`{"jsonrpc":"2.0","method":"notifications/resources/list_changed"}`, "", true},
	} {
		got, drop, err := rewrite(t, rw, tt.in)
		if err != nil || drop != tt.drop || got != tt.want {
			t.Errorf("in %s\ngot %s drop %v (%v), want %s drop %v", tt.in, got, drop, err, tt.want, tt.drop)
		}
	}
}

func TestRewriteUnhides(t *testing.T) {
	rw := &Rewriter{Binder: testBinder{}, Hidden: true}
	tok := HiddenMarker + "dGVzdA"
	for _, tc := range []struct{ in, want string }{
		// Quoted inside the text, as the Go SDK's %q writes it: escaped as
		// Go quotes it, then as JSON.
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown prompt \"` + tok + `\""}}`,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"unknown prompt \"say \\\"hi\\\"\""}}`},
		// Plain text, as the TypeScript SDK writes it.
		{`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"MCP error -32602: Prompt ` + tok + ` not found"}}`,
			`{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"MCP error -32602: Prompt say \"hi\" not found"}}`},
		// A URI: the scheme goes with the token.
		{`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"subscribed to ` + HiddenScheme + tok + `"}}`,
			`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"subscribed to say \"hi\""}}`},
		// A token that does not open stays.
		{`{"jsonrpc":"2.0","id":1,"result":{"x":"` + HiddenMarker + `bm9wZQ"}}`, `{"jsonrpc":"2.0","id":1,"result":{"x":"` + HiddenMarker + `bm9wZQ"}}`},
	} {
		got, _, err := rewrite(t, rw, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("in   %s\ngot  %s (%v)\nwant %s", tc.in, got, err, tc.want)
		}
	}
}

func TestEventFraming(t *testing.T) {
	for _, tt := range []struct {
		prev, p string
		want    int
	}{
		{"", "data: x\n\n", 9}, {"data: x\n", "\n", 1}, {"data: x\r\n", "\r\n", 2}, {"data: x\r", "\r", 1},
		{"", "data: x\n", -1}, {"", "event: a\ndata: x\r\n\r\nrest", 20}, {"da", "ta: x\n\nmore", 7},
	} {
		if got := EventEnd([]byte(tt.prev), []byte(tt.p)); got != tt.want {
			t.Errorf("EventEnd(%q, %q) = %d, want %d", tt.prev, tt.p, got, tt.want)
		}
	}
	ev := []byte("event: message\nid: 7\ndata: {\"a\":1}\n\n")
	e, _ := ParseEvent(ev, nil)
	if e.Lines != 1 || string(e.Data) != `{"a":1}` {
		t.Fatalf("ParseEvent: %+v", e)
	}
	var w bytes.Buffer
	if err := WriteEvent(&w, e, Edits{{Span: Span{5, 6}, Repl: []byte("22")}}); err != nil || w.String() != "event: message\nid: 7\ndata: {\"a\":22}\n\n" {
		t.Errorf("WriteEvent: %q %v", w.String(), err)
	}
	ev = []byte("id: 8\ndata: {\"a\":\ndata: 1}\n\n")
	e, _ = ParseEvent(ev, nil)
	if e.Lines != 2 || string(e.Data) != "{\"a\":\n1}" {
		t.Fatalf("ParseEvent of two lines: %+v", e)
	}
	w.Reset()
	if err := WriteEvent(&w, e, Edits{{Span: Span{6, 7}, Repl: []byte("3")}}); err != nil || w.String() != "id: 8\ndata: {\"a\":\ndata: 3}\n\n" {
		t.Errorf("WriteEvent of two lines: %q %v", w.String(), err)
	}
}

// FuzzRewriter: the reply rewriter never panics, and what it makes of a
// valid message is valid JSON, with every list filtered: no item the
// policy refuses survives (the policy refuses every name with an "x").
func FuzzRewriter(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"x"}],"nextCursor":"c"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"}],"tools":[]}}`,
		`[{"jsonrpc":"2.0","id":1,"result":{"prompts":[{"name":"x"}]}},{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}]`,
		`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t"},"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t"}}}}`,
		`{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":{"resourceSubscriptions":["file:///x"]}}}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"` + HiddenMarker + `dGVzdA"}}`,
	} {
		f.Add([]byte(s))
	}
	rw := &Rewriter{
		Policy: testPolicy{use: func(_, item string) bool { return !strings.Contains(item, "x") },
			subscribe: func(uri string) bool { return !strings.Contains(uri, "x") }},
		Binder: testBinder{cursor: func(list, c string) string { return c }, task: func(id string) string { return id },
			keep: func(string) bool { return true }},
		Hidden: true,
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		edits, drop, err := rw.Message(msg, nil)
		if err != nil || drop {
			return
		}
		at := 0
		for _, e := range edits {
			if e.Start < at || e.End < e.Start || e.End > len(msg) {
				t.Fatalf("edits out of order or range: %+v", edits)
			}
			at = e.End
		}
		out := edits.Apply(nil, msg)
		if !ValidJSON(msg) {
			return
		}
		if !ValidJSON(out) {
			t.Fatalf("valid in, invalid out:\n%s\n%s", msg, out)
		}
		// What a client reads: encoding/json, last duplicate wins. No
		// listed item it reads may be one the policy refuses.
		var m struct {
			Result map[string]json.RawMessage `json:"result"`
		}
		if json.Unmarshal(out, &m) != nil {
			return
		}
		for _, f := range Families {
			var items []map[string]any
			if json.Unmarshal(m.Result[f.Key], &items) != nil {
				continue
			}
			for _, it := range items {
				if name, _ := it[f.Field].(string); strings.Contains(name, "x") {
					t.Fatalf("a refused item survived:\n%s\n%s", msg, out)
				}
			}
		}
	})
}

// TestEscapedSpellingsRewritten: a backend may spell any key or string
// with escapes (\u0074ools, notifications\/prompts\/…); the client reads
// the same message, so the rewriter must too. Every string of every
// message the rewriter acts on is respelled in turn, with each letter as
// \u00XX and each slash as \/, and the respelled message must come out
// meaning what the plain one does.
func TestEscapedSpellingsRewritten(t *testing.T) {
	rw := &Rewriter{
		Policy: testPolicy{
			use:       readerMayUse,
			subscribe: func(uri string) bool { return strings.HasPrefix(uri, "file:///docs/") },
			list:      func(list string) bool { return list == "tools/list" },
		},
		Binder: testBinder{
			cursor: func(list, c string) string { return "sealed:" + list + ":" + c },
			task:   func(id string) string { return "w." + id },
			keep:   func(id string) bool { return id != "other" },
		},
	}
	msgs := []string{
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search_docs"},{"name":"delete_all"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resources":[{"uri":"file:///docs/a"},{"uri":"file:///private/b"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"file:///private/{x}"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"skills":[{"uri":"skill://private/x"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextCursor":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"t1","status":"working"}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resultType":"task","taskId":"t1","status":"working"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"t1"}}}}`,
		`{"jsonrpc":"2.0","method":"notifications/prompts/list_changed"}`,
		`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///private/a"}}`,
	}
	meaning := func(s string) string {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	outcome := func(in string) string {
		edits, drop, err := rw.Message([]byte(in), nil)
		switch {
		case err != nil:
			return "error"
		case drop:
			return "dropped"
		}
		return meaning(string(edits.Apply(nil, []byte(in))))
	}
	for _, m := range msgs {
		want := outcome(m)
		if want == meaning(m) {
			t.Fatalf("%s: the rewriter leaves it alone, so it proves nothing", m)
		}
		for i := 0; i < len(m); i++ {
			if m[i] != '"' {
				continue
			}
			end := i + 1 + strings.IndexByte(m[i+1:], '"')
			var esc strings.Builder
			for _, c := range []byte(m[i+1 : end]) {
				switch {
				case c == '/':
					esc.WriteString(`\/`)
				case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
					fmt.Fprintf(&esc, `\u%04x`, c)
				default:
					esc.WriteByte(c)
				}
			}
			respelled := m[:i+1] + esc.String() + m[end:]
			if got := outcome(respelled); got != want {
				t.Errorf("respelled %s\ngot  %s\nwant %s", respelled, got, want)
			}
			i = end
		}
	}
}

// TestFoldedKeysParsed: a reply key that differs from one the rewriter
// reads only in case, or by a Unicode fold, is never passed unread: a
// client whose JSON decoder matches keys case-insensitively (Go's
// encoding/json) reads "Tools" as the tool list. Each is withheld or
// rewritten, never passed as sent; the exact spellings still rewrite.
func TestFoldedKeysParsed(t *testing.T) {
	rw := &Rewriter{
		Policy: testPolicy{use: readerMayUse, list: func(list string) bool { return list == "tools/list" }},
		Binder: testBinder{
			cursor: func(list, c string) string { return "sealed:" + c },
			task:   func(id string) string { return "w." + id },
			keep:   func(id string) bool { return true },
		},
	}
	for _, m := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"Tools":[{"name":"delete_all"}]}}`,
		`{"jsonrpc":"2.0","id":1,"Result":{"tools":[{"name":"delete_all"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"TOOLS":[{"name":"delete_all"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"reſources":[{"uri":"file:///private/b"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"Name":"delete_all"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resultType":"task","taskid":"t1"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","RequestState":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"NextCursor":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[],"nextcursor":"abc"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tasks":[{"TaskId":"t1"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[],"_meta":{"io.modelcontextprotocol/Related-Task":{"taskId":"t1"}}}}`,
		`{"jsonrpc":"2.0","Method":"notifications/resources/updated","params":{"uri":"file:///private/a"}}`,
	} {
		edits, drop, err := rw.Message([]byte(m), nil)
		if err == nil && !drop && len(edits) == 0 {
			t.Errorf("%s: passed as sent", m)
		}
	}
	for _, m := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Tools and Names"}]}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"inputSchema"}],"isError":false}}`,
	} {
		if _, drop, err := rw.Message([]byte(m), nil); err != nil || drop {
			t.Errorf("%s: refused (%v) or dropped (%v)", m, err, drop)
		}
	}
}

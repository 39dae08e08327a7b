package mcpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

func TestBoundIDs(t *testing.T) {
	k := testKeys
	w := k.wrapTask("token:alice", "t-1")
	if id, ok := k.unwrapTask("token:alice", w); !ok || id != "t-1" {
		t.Fatalf("own task id: %q %v", id, ok)
	}
	other, _ := deriveKeys([]byte("another key of thirty-two bytes!"))
	for name, tc := range map[string]struct{ principal, id string }{
		"other principal":  {"token:bob", w},
		"client id":        {"jwt:https://as#client:alice", w},
		"tampered id":      {"token:alice", w + "x"},
		"tampered mac":     {"token:alice", w[:len(prefixTask)] + "A" + w[len(prefixTask)+1:]},
		"truncated":        {"token:alice", w[:len(w)-2]},
		"no id":            {"token:alice", w[:len(prefixTask)+macLen+1]},
		"raw backend id":   {"token:alice", "t-1"},
		"a state as task":  {"token:alice", k.wrapState("token:alice", "t-1")},
		"a session as one": {"token:alice", prefixTask + wrapSessionID(k.session, "token:alice", "t-1")},
		"other key":        {"token:alice", other.wrapTask("token:alice", "t-1")},
	} {
		if _, ok := k.unwrapTask(tc.principal, tc.id); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	s := k.wrapState("token:alice", "st")
	if st, ok := k.unwrapState("token:alice", s); !ok || st != "st" {
		t.Errorf("own state: %q %v", st, ok)
	}
	if _, ok := k.unwrapState("token:bob", s); ok {
		t.Error("another principal's state opened")
	}
	c := k.sealCursor("token:alice", "tools/list", "page-2")
	if got, ok := k.openCursor("token:alice", "tools/list", c); !ok || got != "page-2" {
		t.Errorf("own cursor: %q %v", got, ok)
	}
	for name, tc := range map[string]struct{ principal, list, c string }{
		"other principal": {"token:bob", "tools/list", c},
		"other list":      {"token:alice", "prompts/list", c},
		"tampered":        {"token:alice", "tools/list", flip(c, len(c)/2)},
		"tampered tail":   {"token:alice", "tools/list", flip(c, len(c)-1)},
		"not sealed":      {"token:alice", "tools/list", "page-2"},
		"empty":           {"token:alice", "tools/list", prefixCursor},
		"other key":       {"token:alice", "tools/list", other.sealCursor("token:alice", "tools/list", "page-2")},
	} {
		if _, ok := k.openCursor(tc.principal, tc.list, tc.c); ok {
			t.Errorf("cursor %s: opened", name)
		}
	}
	if c == k.sealCursor("token:alice", "tools/list", "page-2") {
		t.Error("two seals of one cursor are equal: the nonce is not fresh")
	}
}

// forwarded runs a body through the handler as caller tok and returns
// the body and Mcp-Name header the backend got, and the reply.
func forwarded(t *testing.T, m *MCPAuth, tok, body string, header map[string]string, reply string) (got string, mcpName string, res *httptest.ResponseRecorder) {
	t.Helper()
	req := post(body, tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	caddyhttp.NewTestReplacer(req)
	res = httptest.NewRecorder()
	calls := 0
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		calls++
		b, _ := io.ReadAll(r.Body)
		got, mcpName = string(b), r.Header.Get("Mcp-Name")
		if int64(len(b)) != r.ContentLength {
			t.Errorf("ContentLength %d, body %d bytes", r.ContentLength, len(b))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, reply)
		return nil
	})
	if err := m.ServeHTTP(res, req, next); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("%s: forwarded %d times (status %d %s)", body, calls, res.Code, res.Body.String())
	}
	return got, mcpName, res
}

func field(t *testing.T, raw string, path ...string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	for _, p := range path {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no %v", raw, path)
		}
		v = o[p]
	}
	s, _ := v.(string)
	return s
}

// TestTaskIDsBoundInEveryField: task ids the backend hands out are
// wrapped for their caller in every field they live in; the caller's own
// come back unwrapped; anyone else's, forged or raw ones reach the backend
// as fresh random ids, never derived from what was sent.
func TestTaskIDsBoundInEveryField(t *testing.T) {
	m := newHandler(t, nil)
	// A CreateTaskResult (2025-11-25) is wrapped for alice.
	_, _, res := forwarded(t, m, aliceToken,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","task":{"ttl":1000}}}`, nil,
		`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"backend-7","status":"working"}}}`)
	wrapped := field(t, res.Body.String(), "result", "task", "taskId")
	if !strings.HasPrefix(wrapped, prefixTask) || !strings.HasSuffix(wrapped, ".backend-7") {
		t.Fatalf("task id handed out as %q", wrapped)
	}
	// The flat 2026-07-28 CreateTaskResult too, and a tasks/get result.
	_, _, res = forwarded(t, m, aliceToken, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}}`, nil,
		`{"jsonrpc":"2.0","id":2,"result":{"resultType":"task","taskId":"backend-8","status":"working"}}`)
	if w := field(t, res.Body.String(), "result", "taskId"); !strings.HasSuffix(w, ".backend-8") || !strings.HasPrefix(w, prefixTask) {
		t.Fatalf("2026 task id handed out as %q", w)
	}

	for _, tc := range []struct {
		name string
		body func(id string) string
		path []string
		hdr  bool
	}{
		{"tasks/get", func(id string) string {
			return `{"jsonrpc":"2.0","id":3,"method":"tasks/get","params":{"taskId":` + wire.Quote(id) + `}}`
		}, []string{"params", "taskId"}, true},
		{"tasks/result", func(id string) string {
			return `{"jsonrpc":"2.0","id":3,"method":"tasks/result","params":{"taskId":` + wire.Quote(id) + `}}`
		}, []string{"params", "taskId"}, false},
		{"tasks/cancel", func(id string) string {
			return `{"jsonrpc":"2.0","id":3,"method":"tasks/cancel","params":{"taskId":` + wire.Quote(id) + `}}`
		}, []string{"params", "taskId"}, true},
		{"tasks/update", func(id string) string {
			return `{"jsonrpc":"2.0","id":3,"method":"tasks/update","params":{"taskId":` + wire.Quote(id) + `,"inputResponses":{}}}`
		}, []string{"params", "taskId"}, true},
		{"related-task of a request", func(id string) string {
			return `{"jsonrpc":"2.0","id":3,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":` + wire.Quote(id) + `}}}}`
		}, []string{"params", "_meta", wire.MetaRelatedTask, "taskId"}, false},
	} {
		header := map[string]string{}
		if tc.hdr {
			header["Mcp-Name"] = wrapped
		}
		// The creator: its own id comes back unwrapped, header too.
		got, name, _ := forwarded(t, m, aliceToken, tc.body(wrapped), header, `{"jsonrpc":"2.0","id":3,"result":{}}`)
		if v := field(t, got, tc.path...); v != "backend-7" {
			t.Errorf("%s: alice's own id reached the backend as %q", tc.name, v)
		}
		if tc.hdr && name != "backend-7" {
			t.Errorf("%s: Mcp-Name %q, want the unwrapped id", tc.name, name)
		}
		// Another caller, the raw id, a forged one: a fresh random id.
		seen := map[string]bool{}
		for _, sent := range []struct{ tok, id string }{
			{bobToken, wrapped}, {bobToken, "backend-7"}, {aliceToken, "backend-7"},
			{aliceToken, wrapped[:len(wrapped)-1]}, {bobToken, testKeys.wrapTask("token:bob", "backend-7")},
		} {
			if tc.hdr {
				header["Mcp-Name"] = sent.id
			}
			got, name, _ := forwarded(t, m, sent.tok, tc.body(sent.id), header, `{"jsonrpc":"2.0","id":3,"result":{}}`)
			v := field(t, got, tc.path...)
			if v == "backend-7" || strings.Contains(v, "backend") || len(v) != 32 || seen[v] {
				t.Errorf("%s: %q sent as %q reached the backend as %q", tc.name, sent.id, sent.tok, v)
			}
			seen[v] = true
			if tc.hdr && name != v {
				t.Errorf("%s: Mcp-Name %q does not follow the body's %q", tc.name, name, v)
			}
		}
	}

	// A client's own task id (a task it runs for the server) stands in its
	// responses and status notifications unwrapped: left alone.
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":"s1","result":{"_meta":{"io.modelcontextprotocol/related-task":{"taskId":"client-9"}}}}`,
		`{"jsonrpc":"2.0","method":"notifications/tasks/status","params":{"taskId":"client-9","_meta":{"io.modelcontextprotocol/related-task":{"taskId":"client-9"}}}}`,
	} {
		if got, _, _ := forwarded(t, m, aliceToken, body, nil, ``); got != body {
			t.Errorf("client-minted task id rewritten:\n got %s\nwant %s", got, body)
		}
	}

	// subscriptions/listen asks for notifications of its task ids.
	got, _, _ := forwarded(t, m, aliceToken,
		`{"jsonrpc":"2.0","id":5,"method":"subscriptions/listen","params":{"notifications":{"taskIds":[`+wire.Quote(wrapped)+`,"backend-7"]}}}`, nil,
		`{"jsonrpc":"2.0","id":5,"result":{}}`)
	var listen struct {
		Params struct {
			Notifications struct{ TaskIDs []string } `json:"notifications"`
		} `json:"params"`
	}
	_ = json.Unmarshal([]byte(got), &listen)
	if ids := listen.Params.Notifications.TaskIDs; len(ids) != 2 || ids[0] != "backend-7" || ids[1] == "backend-7" {
		t.Errorf("listen task ids reached the backend as %q", ids)
	}
}

// TestTasksListShowsOwnTasks: a tasks/list reply lists the caller's own
// tasks only, wrapped for it.
func TestTasksListShowsOwnTasks(t *testing.T) {
	m := newHandler(t, nil)
	create := func(tok, id string) {
		forwarded(t, m, tok, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_slow","task":{}}}`, nil,
			`{"jsonrpc":"2.0","id":1,"result":{"task":{"taskId":"`+id+`","status":"working"}}}`)
	}
	create(aliceToken, "a-1")
	create(bobToken, "b-1")
	list := `{"jsonrpc":"2.0","id":2,"result":{"tasks":[{"taskId":"a-1"},{"taskId":"b-1"},{"taskId":"unknown-1"}]}}`
	for tok, want := range map[string]string{aliceToken: "a-1", bobToken: "b-1"} {
		_, _, res := forwarded(t, m, tok, `{"jsonrpc":"2.0","id":2,"method":"tasks/list"}`, nil, list)
		var got struct {
			Result struct{ Tasks []struct{ TaskID string } } `json:"result"`
		}
		_ = json.Unmarshal(res.Body.Bytes(), &got)
		if len(got.Result.Tasks) != 1 || !strings.HasSuffix(got.Result.Tasks[0].TaskID, "."+want) {
			t.Errorf("%s sees %+v, want its own %s only", tok, got.Result.Tasks, want)
		}
	}
}

// TestCursorsSealed: a cursor the client did not get sealed for this list
// reaches the backend as a fresh random cursor.
func TestCursorsSealed(t *testing.T) {
	m := newHandler(t, nil)
	_, _, res := forwarded(t, m, bobToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_a"}],"nextCursor":"Z2V0X2E="}}`)
	sealed := field(t, res.Body.String(), "result", "nextCursor")
	if !strings.HasPrefix(sealed, prefixCursor) || strings.Contains(sealed, "Z2V0X2E") {
		t.Fatalf("cursor handed out as %q", sealed)
	}
	got, _, _ := forwarded(t, m, bobToken, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":`+wire.Quote(sealed)+`}}`, nil, `{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}`)
	if c := field(t, got, "params", "cursor"); c != "Z2V0X2E=" {
		t.Errorf("own cursor reached the backend as %q", c)
	}
	for _, tc := range []struct{ tok, method, cursor string }{
		{aliceToken, "tools/list", sealed}, {bobToken, "prompts/list", sealed}, {bobToken, "tools/list", "Z2V0X2E="},
	} {
		got, _, _ := forwarded(t, m, tc.tok, `{"jsonrpc":"2.0","id":2,"method":`+wire.Quote(tc.method)+`,"params":{"cursor":`+wire.Quote(tc.cursor)+`}}`, nil, `{"jsonrpc":"2.0","id":2,"result":{}}`)
		if c := field(t, got, "params", "cursor"); c == "Z2V0X2E=" || c == tc.cursor || c == "" {
			t.Errorf("%s %s: cursor reached the backend as %q", tc.tok, tc.method, c)
		}
	}
}

// TestRequestStateBound: the opaque state of a multi-round-trip request
// is bound to its caller like a task id.
func TestRequestStateBound(t *testing.T) {
	m := newHandler(t, nil)
	_, _, res := forwarded(t, m, aliceToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x"}}`, nil,
		`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","inputRequests":{},"requestState":"opaque-1"}}`)
	st := field(t, res.Body.String(), "result", "requestState")
	if !strings.HasPrefix(st, prefixState) {
		t.Fatalf("state handed out as %q", st)
	}
	retry := func(tok, st string) string {
		got, _, _ := forwarded(t, m, tok, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_x","inputResponses":{},"requestState":`+wire.Quote(st)+`}}`, nil, `{"jsonrpc":"2.0","id":2,"result":{}}`)
		return field(t, got, "params", "requestState")
	}
	if got := retry(aliceToken, st); got != "opaque-1" {
		t.Errorf("own state reached the backend as %q", got)
	}
	// A state that does not open is refused with -32602 and never reaches
	// the backend: another caller's, an unbound one, one altered the way
	// the conformance suite does (a suffix), a flipped MAC, a truncated one.
	for name, tc := range map[string]struct{ tok, st string }{
		"bob with alice's state": {bobToken, st},
		"unbound":                {aliceToken, "opaque-1"},
		"suffixed":               {aliceToken, st + "-TAMPERED"},
		"MAC flipped":            {aliceToken, flip(st, len(prefixState)+3)},
		"truncated":              {aliceToken, st[:len(st)-1]},
		"prefix only":            {aliceToken, prefixState},
		"empty":                  {aliceToken, ""},
	} {
		next := &spy{}
		res := serve(t, m, next, post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_x","inputResponses":{},"requestState":`+wire.Quote(tc.st)+`}}`, tc.tok))
		if next.calls != 0 {
			t.Errorf("%s: forwarded as %s", name, next.body)
		}
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, `"id":7`) || !strings.Contains(res.body, `"code":-32602`) ||
			!strings.Contains(res.body, "invalid requestState") {
			t.Errorf("%s: answered %d %s", name, res.status, res.body)
		}
		if strings.Contains(res.body, "opaque-1") {
			t.Errorf("%s: the answer shows the backend's state: %s", name, res.body)
		}
	}
}

// flip changes the base64url character at i.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestSealedCursorLength: a sealed cursor's length tells only roughly how
// long the backend's cursor is.
func TestSealedCursorLength(t *testing.T) {
	lengths := map[int]bool{}
	for n := 0; n < cursorPad-2; n++ {
		c := strings.Repeat("c", n)
		s := testKeys.sealCursor("token:bob", "tools/list", c)
		if got, ok := testKeys.openCursor("token:bob", "tools/list", s); !ok || got != c {
			t.Fatalf("cursor of %d bytes: %q %v", n, got, ok)
		}
		lengths[len(s)] = true
	}
	if len(lengths) != 1 {
		t.Errorf("cursors of 0..%d bytes seal to %d different lengths", cursorPad-3, len(lengths))
	}
}

// TestWhichRepliesAreRead: a JSON reply is read (and what it hands out
// bound) whenever the request could get something back the module
// rewrites; only a plain call under a revision before 2026-07-28 passes
// through as it streams. The oracle is a reply with a request state: read,
// it comes back sealed; passed through, as the backend wrote it.
func TestWhichRepliesAreRead(t *testing.T) {
	m := newHandler(t, nil)
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x"}}`
	for _, tc := range []struct {
		name, body, version string
		read                bool
	}{
		{"2025-11-25 call", call, "2025-11-25", false},
		{"2025-06-18 call", call, "2025-06-18", false},
		{"2026-07-28 call", call, "2026-07-28", true},
		{"a revision unknown", call, "2027-01-01", true},
		{"no revision", call, "", true},
		{"_meta names 2026-07-28", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, "2026-07-28", true},
		{"task-augmented", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x","task":{"ttl":1000}}}`, "2025-11-25", true},
		{"a list", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "2025-11-25", true},
		{"a task method", `{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":"t"}}`, "2025-11-25", true},
		{"a batch with a list", `[` + call + `,{"jsonrpc":"2.0","id":2,"method":"tools/list"}]`, "2025-03-26", true},
		{"a batch of calls", `[` + call + `,{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_x"}}]`, "2025-03-26", true},
	} {
		h := map[string]string{}
		if tc.version != "" {
			h["Mcp-Protocol-Version"] = tc.version
		}
		_, _, res := forwarded(t, m, aliceToken, tc.body, h,
			`{"jsonrpc":"2.0","id":1,"result":{"resultType":"input_required","requestState":"opaque-1"}}`)
		if res.Code != http.StatusOK {
			t.Errorf("%s: status %d %s", tc.name, res.Code, res.Body.String())
			continue
		}
		st := field(t, res.Body.String(), "result", "requestState")
		if read := st != "opaque-1"; read != tc.read {
			t.Errorf("%s: reply read %v, want %v (state %q)", tc.name, read, tc.read, st)
		}
	}
}

// TestBindingScopes: handlers that share the session key but not the
// binding_scope are separate domains: nothing one binds (a session id, a
// task id, a request state, a cursor, a hidden name) opens at the other,
// for the same principal. Found by attack: a second backend on the gateway
// that hands back a chosen task id had another caller's task re-bound for
// the attacker (hostile/crosshandler_test.go).
func TestBindingScopes(t *testing.T) {
	key := []byte("a shared session key, 32 bytes!!")
	keys := func(scope string) *bindingKeys {
		t.Helper()
		s := &sessionKeys{key: key, scope: scope}
		k, err := s.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, a2, b, none := keys("a"), keys("a"), keys("b"), keys("")
	const p = "token:bob"
	sid := wrapSessionID(a.session, p, "sid-1")
	task, state, cursor, hidden := a.wrapTask(p, "t-1"), a.wrapState(p, "st"), a.sealCursor(p, "tools/list", "c"), a.sealHidden(p, "x")
	if _, ok := unwrapSessionID(a2.session, p, sid); !ok {
		t.Error("the same scope: session id does not open")
	}
	if _, ok := a2.unwrapTask(p, task); !ok {
		t.Error("the same scope: task id does not open")
	}
	for name, other := range map[string]*bindingKeys{"scope b": b, "no scope": none} {
		if _, ok := unwrapSessionID(other.session, p, sid); ok {
			t.Errorf("%s: session id opened", name)
		}
		if _, ok := other.unwrapTask(p, task); ok {
			t.Errorf("%s: task id opened", name)
		}
		if _, ok := other.unwrapState(p, state); ok {
			t.Errorf("%s: request state opened", name)
		}
		if _, ok := other.openCursor(p, "tools/list", cursor); ok {
			t.Errorf("%s: cursor opened", name)
		}
		if _, ok := other.openHidden(p, hidden); ok {
			t.Errorf("%s: hidden name opened", name)
		}
	}
	if !bytes.Equal(none.session, key) {
		t.Error("without a scope the session key changed: ids bound before binding_scope would no longer open")
	}
}

// TestLenientReplyMediaTypes: a list reply whose Content-Type names JSON
// or an event stream anywhere, as the TypeScript SDK client reads it
// (substring match), is filtered like application/json, never passed.
func TestLenientReplyMediaTypes(t *testing.T) {
	m := newHandler(t, nil)
	for _, ct := range []string{"application/json, text/plain", "text/plain; x=application/json", "Application/JSON;;", "application/vnd.x+json", "text/event-stream, text/plain"} {
		reply := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"get_x"},{"name":"delete_all"}]}}`
		if strings.Contains(ct, "event-stream") {
			reply = "event: message\ndata: " + reply + "\n\n"
		}
		req := post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, bobToken)
		caddyhttp.NewTestReplacer(req)
		res := httptest.NewRecorder()
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", ct)
			_, _ = io.WriteString(w, reply)
			return nil
		})
		if err := m.ServeHTTP(res, req, next); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(res.Body.String(), "delete_all") {
			t.Errorf("Content-Type %q: the list passed unfiltered: %s", ct, res.Body.String())
		}
	}
}

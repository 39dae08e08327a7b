package mcpauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// TestReplyChargedToBudget: a JSON reply read whole and an SSE event are
// charged to the budget; when it cannot hold them the JSON reply is
// answered 503 with Retry-After and nothing of it is written, and a stream
// ends — never anything unfiltered — and the charge goes back.
func TestReplyChargedToBudget(t *testing.T) {
	b := &budget{total: 32 << 10, share: 32 << 10, by: map[string]int64{}}
	big := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm","description":"` + strings.Repeat("x", 64<<10) + `"}]}}`

	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, readerRoles(t), true)
	rw.acct = account{b: b, p: "token:bob"}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(200)
	_, _ = rw.Write([]byte(big))
	if !rw.finish() || rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		strings.Contains(rec.Body.String(), `"rm"`) {
		t.Errorf("JSON reply over the budget: %d Retry-After %q %.80s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	rw.acct.release()
	if b.used.Load() != 0 {
		t.Errorf("%d bytes still charged", b.used.Load())
	}

	rec = httptest.NewRecorder()
	rw = newReplyWriter(rec, readerRoles(t), false)
	rw.acct = account{b: b, p: "token:bob"}
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(200)
	ev := "data: " + big + "\n\n"
	var err error
	for p := []byte(ev); len(p) > 0 && err == nil; {
		n := min(8<<10, len(p))
		_, err = rw.Write(p[:n])
		p = p[n:]
	}
	if err == nil || strings.Contains(rec.Body.String(), `"rm"`) {
		t.Errorf("SSE event over the budget: err %v, wrote %.80q", err, rec.Body.String())
	}
	rw.acct.release()
	if b.used.Load() != 0 {
		t.Errorf("%d bytes still charged after the stream", b.used.Load())
	}
}

// TestBudgetRefusesBody: a POST whose body the budget cannot hold is
// answered 503 with Retry-After, nothing forwarded, and counted.
func TestBudgetRefusesBody(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) {
		m.MaxBody = 12 << 10
		m.MemoryBudget = &MemoryBudget{Total: 16 << 10, PerCaller: 8 << 10}
	})
	next := &spy{}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_x","arguments":{"pad":"` + strings.Repeat("x", 10000) + `"}}}`
	req := post(body, bobToken)
	caddyhttp.NewTestReplacer(req)
	res := serve(t, m, next, req)
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || next.calls != 0 ||
		!strings.Contains(res.body, `"memory_budget"`) {
		t.Errorf("got %d Retry-After %q forwarded %d: %s", res.status, res.header.Get("Retry-After"), next.calls, res.body)
	}
	// A small request still passes, and the budget is whole again.
	if res := serve(t, m, &spy{}, post(callEcho, bobToken)); res.status != 200 {
		t.Errorf("a small request after: %d %s", res.status, res.body)
	}
	if used := m.budget.used.Load(); used != 0 {
		t.Errorf("%d bytes charged with nothing in flight", used)
	}
}

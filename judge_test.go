package mcpauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestRevisionRules: MCP-Protocol-Version must name one revision; the
// minimum refuses older ones with revision 2026-07-28's -32022 and the
// supported list; GET and DELETE are judged by the header alone.
func TestRevisionRules(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.MinProtocolVersion = "2025-06-18" })
	call := func(version string) *http.Request {
		r := post(callEcho, bobToken)
		if version != "" {
			r.Header.Set("Mcp-Protocol-Version", version)
		}
		return r
	}
	for _, tc := range []struct {
		version string
		status  int
	}{
		{"2025-06-18", 200}, {"2026-07-28", 200}, {"2025-03-26", 400}, {"", 400},
		{"2099-01-01", 400}, {"9", 400}, {"2026-07-28, 2026-07-28", 400}, {"2026-7-28", 400},
	} {
		next := &spy{}
		res := serve(t, m, next, call(tc.version))
		if res.status != tc.status || (tc.status == 200) != (next.calls == 1) {
			t.Errorf("version %q: %d (forwarded %d), want %d", tc.version, res.status, next.calls, tc.status)
		}
		if tc.status == 400 {
			var e struct {
				Error struct {
					Code int
					Data struct {
						Supported []string
						Requested string
					}
				}
			}
			if json.Unmarshal([]byte(res.body), &e) != nil || e.Error.Code != -32022 ||
				strings.Join(e.Error.Data.Supported, " ") != "2025-06-18 2025-11-25 2026-07-28" {
				t.Errorf("version %q: %s", tc.version, res.body)
			}
		}
	}
	get := httptest.NewRequest(http.MethodGet, "/mcp", nil)
	get.Header.Set("Authorization", "Bearer "+bobToken)
	if res := serve(t, m, &spy{}, get); res.status != 400 {
		t.Errorf("GET without a version under a minimum: %d", res.status)
	}
	get.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if res := serve(t, m, &spy{}, get); res.status != 200 {
		t.Errorf("GET of 2025-11-25: %d %s", res.status, res.body)
	}
	// Without a minimum, a malformed header is still refused; a
	// well-formed unknown one goes on (the backend answers it).
	m = newHandler(t, nil)
	if res := serve(t, m, &spy{}, call("banana")); res.status != 400 {
		t.Errorf("a malformed version without a minimum: %d", res.status)
	}
	if res := serve(t, m, &spy{}, call("2099-01-01")); res.status != 200 {
		t.Errorf("an unknown well-formed version without a minimum: %d", res.status)
	}
}

// TestDeclaredTrailerRefused: a chunked body with a declared trailer
// (which Go moves from the header into r.Trailer) is refused before it is
// read.
func TestDeclaredTrailerRefused(t *testing.T) {
	m := newHandler(t, nil)
	next := &spy{}
	r := post(callEcho, bobToken)
	r.Trailer = http.Header{"X-Mcp-User": nil}
	if res := serve(t, m, next, r); res.status != 400 || next.calls != 0 || !strings.Contains(res.body, "trailer") {
		t.Errorf("got %d (forwarded %d): %s", res.status, next.calls, res.body)
	}
}

// TestMcpNameStrictBase64: a base64 Mcp-Name whose padding bits are not
// zero is not the name (the TypeScript SDK v2 decodes strictly).
func TestMcpNameStrictBase64(t *testing.T) {
	m := newHandler(t, nil)
	for v, want := range map[string]int{"=?base64?Z2V0X3dlYXRoZXI=?=": 200, "=?base64?Z2V0X3dlYXRoZXJ=?=": 400} {
		r := post(callEcho, bobToken)
		r.Header.Set("Mcp-Name", v)
		if res := serve(t, m, &spy{}, r); res.status != want {
			t.Errorf("Mcp-Name %s: %d, want %d", v, res.status, want)
		}
	}
}

// TestCompletionWithoutRef: a completion/complete without a ref names
// nothing: the method's own rules decide and the backend answers.
func TestCompletionWithoutRef(t *testing.T) {
	m := newHandler(t, nil)
	next := &spy{}
	body := `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"argument":{"name":"a","value":""}}}`
	if res := serve(t, m, next, post(body, aliceToken)); res.status != 200 || next.calls != 1 {
		t.Errorf("admin: %d (forwarded %d) %s", res.status, next.calls, res.body)
	}
	next = &spy{}
	if res := serve(t, m, next, post(body, bobToken)); next.calls != 0 || !strings.Contains(res.body, "-32030") {
		t.Errorf("reader: %d (forwarded %d) %s", res.status, next.calls, res.body)
	}
}

// TestRefusalEchoesIDAfterBodyReuse: a refusal echoes the request's id
// as sent, although the body's pooled buffer goes back (and may be
// reused by another request) before the refusal is written.
func TestRefusalEchoesIDAfterBodyReuse(t *testing.T) {
	m := newHandler(t, nil)
	next := &spy{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf(`"req-%03d-%s"`, i, strings.Repeat("x", 40))
			body := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"get_a","name":"get_b"}}`
			res := serve(t, m, next, post(body, bobToken))
			if !strings.Contains(res.body, `"id":`+id+`,`) {
				t.Errorf("refusal %d does not echo its id %s: %s", i, id, res.body)
			}
		}()
	}
	wg.Wait()
}

// TestRefusalOwnsItsID: the deterministic half of the test above: an
// rpcRefusal keeps its own copy of the id it echoes.
func TestRefusalOwnsItsID(t *testing.T) {
	body := []byte(`"req-1"`)
	rf := rpcRefusal(http.StatusBadRequest, reasonMalformed, -32600, body, "x")
	copy(body, `"XXX-9"`)
	if string(rf.id) != `"req-1"` {
		t.Errorf("the refusal's id changed with the body: %s", rf.id)
	}
}

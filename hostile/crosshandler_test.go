package hostile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestBoundIDsCrossHandlers: handlers that share the session key (Caddy's
// storage, the default) bind to one domain unless each has its own
// binding_scope. Found by attack: bob, who knows alice's raw task id (it
// stands in her bound id), has a second backend on the gateway hand that
// string back as a task id, gets it bound for himself, and reads alice's
// task on the first backend, a stateless task server with one shared store
// (what the TypeScript SDK v1 stateless example with one InMemoryTaskStore
// is), which relies on mcp_auth to scope task ids. With a scope on each
// handler the re-bound id opens nothing at A; the run without scopes is the
// control that shows the attack works, so the scoped run can fail.
func TestBoundIDsCrossHandlers(t *testing.T) {
	for _, tc := range []struct {
		name         string
		scopeA       string
		scopeB       string
		wantLeakable bool
	}{
		{"one domain without binding_scope (control)", "", "", true},
		{"binding_scope per handler", "binding_scope crm", "binding_scope wiki", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaked, detail := crossHandlerAttack(t, tc.scopeA, tc.scopeB)
			switch {
			case tc.wantLeakable && !leaked:
				t.Fatalf("control: the attack did not work without scopes, so the scoped run proves nothing: %s", detail)
			case !tc.wantLeakable && leaked:
				t.Errorf("bob read alice's task through an id bound by another handler: %s", detail)
			}
		})
	}
}

// crossHandlerAttack runs the attack and reports whether backend A served
// alice's task to bob (or its text reached him).
func crossHandlerAttack(t *testing.T, scopeA, scopeB string) (bool, string) {
	a := newTaskStoreBackend(t)
	b := newReflectingBackend(t)
	sites := `http://:{PORT} {
	handle /a/* {
		mcp_auth {
			token alice alice-token-aaaaaaaaaaaaaaaaaaaaaaaa user
			token bob bob-token-a-bbbbbbbbbbbbbbbbbbbbbbbb user
			role user {
				allow tools/call *
			}
			identity_header X-MCP-User
			` + scopeA + `
		}
		reverse_proxy ` + a.addr + `
	}
	handle /b/* {
		mcp_auth {
			token bob bob-token-b-bbbbbbbbbbbbbbbbbbbbbbbb user
			role user {
				allow tools/call *
			}
			identity_header X-MCP-User
			` + scopeB + `
		}
		reverse_proxy ` + b.addr + `
	}
}
`
	c := startCaddy(t, "", sites)
	post := func(path, token, body string) string {
		req, _ := http.NewRequest("POST", c.Base()+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	taskID := regexp.MustCompile(`"taskId"\s*:\s*"([^"]+)"`)

	// alice runs a task on A.
	r := post("/a/mcp", "alice-token-aaaaaaaaaaaaaaaaaaaaaaaa",
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"work","arguments":{"text":"ALICE-PRIVATE"},"task":{"ttl":60000}}}`)
	m := taskID.FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("no task id: %s", r)
	}
	aliceBound := m[1]
	raw := aliceBound[strings.LastIndexByte(aliceBound, '.')+1:]

	// alice's bound id does not open for bob, in either run.
	if r := post("/a/mcp", "bob-token-a-bbbbbbbbbbbbbbbbbbbbbbbb",
		`{"jsonrpc":"2.0","id":2,"method":"tasks/result","params":{"taskId":"`+aliceBound+`"}}`); strings.Contains(r, "ALICE-PRIVATE") {
		t.Fatalf("alice's bound id opened for bob: %s", r)
	}

	// bob has B bind the raw id for him ...
	r = post("/b/mcp", "bob-token-b-bbbbbbbbbbbbbbbbbbbbbbbb",
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","arguments":{"id":"`+raw+`"},"task":{"ttl":1}}}`)
	m = taskID.FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("no task id from B: %s", r)
	}
	bobBound := m[1]

	// ... and uses it on A.
	r = post("/a/mcp", "bob-token-a-bbbbbbbbbbbbbbbbbbbbbbbb",
		`{"jsonrpc":"2.0","id":4,"method":"tasks/result","params":{"taskId":"`+bobBound+`"}}`)
	served := a.servedTo("token:bob", raw)
	return served || strings.Contains(r, "ALICE-PRIVATE"), "backend A served it to bob: " + strconv.FormatBool(served) + "; reply: " + r
}

// taskStoreBackend: a stateless task server with one shared store. tools/call
// with params.task creates a completed task; tasks/result returns its result
// to whoever names it, and records who got it.
type taskStoreBackend struct {
	addr   string
	mu     sync.Mutex
	tasks  map[string]string
	served map[[2]string]bool
}

func newTaskStoreBackend(t *testing.T) *taskStoreBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &taskStoreBackend{addr: ln.Addr().String(), tasks: map[string]string{}, served: map[[2]string]bool{}}
	srv := &http.Server{Handler: http.HandlerFunc(b.serve)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *taskStoreBackend) servedTo(user, id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.served[[2]string{user, id}]
}

func (b *taskStoreBackend) serve(w http.ResponseWriter, r *http.Request) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			TaskID    string            `json:"taskId"`
			Arguments map[string]string `json:"arguments"`
		} `json:"params"`
	}
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &m)
	var result any
	b.mu.Lock()
	switch m.Method {
	case "tools/call":
		var n [16]byte
		_, _ = rand.Read(n[:])
		id := hex.EncodeToString(n[:])
		b.tasks[id] = m.Params.Arguments["text"]
		result = map[string]any{"task": map[string]any{"taskId": id, "status": "completed", "createdAt": "2026-01-01T00:00:00Z", "lastUpdatedAt": "2026-01-01T00:00:00Z", "ttl": 60000}}
	case "tasks/result":
		if text, ok := b.tasks[m.Params.TaskID]; ok {
			b.served[[2]string{r.Header.Get("X-MCP-User"), m.Params.TaskID}] = true
			result = map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}}
		}
	}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if result == nil {
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32602,"message":"Task not found"}}`))
		return
	}
	out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
	_, _ = w.Write(out)
}

// reflectingBackend answers a tools/call with a CreateTaskResult whose
// taskId is params.arguments.id.
type reflectingBackend struct{ addr string }

func newReflectingBackend(t *testing.T) *reflectingBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Params struct {
				Arguments map[string]string `json:"arguments"`
			} `json:"params"`
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &m)
		out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{
			"task": map[string]any{"taskId": m.Params.Arguments["id"], "status": "working", "createdAt": "2026-01-01T00:00:00Z", "lastUpdatedAt": "2026-01-01T00:00:00Z", "ttl": 60000}}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bytes.TrimSpace(out))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &reflectingBackend{addr: ln.Addr().String()}
}

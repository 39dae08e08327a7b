package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// backendMode selects how the MCP backend answers POSTed requests.
type backendMode struct {
	name      string
	json      bool // application/json replies (else text/event-stream)
	stateless bool // no sessions (the SDK's stateless mode)
}

var (
	modeSSE  = backendMode{name: "sse"}
	modeJSON = backendMode{name: "json", json: true}
	// Both stateful modes: the ones where SSE vs JSON changes the path a
	// message takes through Caddy.
	statefulModes = []backendMode{modeSSE, modeJSON}
)

// seenRequest is one HTTP request as the backend received it from Caddy.
type seenRequest struct {
	Method string
	Path   string
	Header http.Header
	// RPC lists the JSON-RPC messages of a POST body, each as
	// "method target" (target empty when there is none); a client
	// response is "response".
	RPC []string
	// Status is the status the backend answered, 0 until it wrote one.
	Status int
	// SessionID is the Mcp-Session-Id the backend set on its answer.
	SessionID string
}

// span is one run of the slow_count tool, timed by the backend.
type span struct{ start, end time.Time }

// backend is a real MCP server (go-sdk) on loopback, wrapped by a recorder
// that keeps every request it receives.
type backend struct {
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port, for reverse_proxy

	mu        sync.Mutex
	reqs      []*seenRequest
	toolCalls map[string]int
	slowRuns  []span
}

const slowStep = 150 * time.Millisecond

type echoIn struct {
	Text string `json:"text"`
}

type slowIn struct {
	Steps int `json:"steps"`
}

func newMCPServer(b *backend) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "integration-backend", Version: "1.0.0"}, nil)

	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echoes text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			b.countTool("echo")
			return textResult("echo: " + in.Text), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get_time", Description: "Tells the time."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			b.countTool("get_time")
			return textResult(time.Now().UTC().Format(time.RFC3339Nano)), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "delete_db", Description: "Deletes the database."},
		func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			b.countTool("delete_db")
			return textResult("database deleted"), nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "slow_count", Description: "Counts slowly, reporting progress."},
		func(ctx context.Context, req *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, any, error) {
			b.countTool("slow_count")
			start := time.Now()
			tok := req.Params.GetProgressToken()
			for i := 1; i <= in.Steps; i++ {
				if tok != nil {
					err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: tok,
						Progress:      float64(i),
						Total:         float64(in.Steps),
						Message:       "step",
					})
					if err != nil {
						return nil, nil, err
					}
				}
				select {
				case <-time.After(slowStep):
				case <-ctx.Done():
					return nil, nil, ctx.Err()
				}
			}
			b.mu.Lock()
			b.slowRuns = append(b.slowRuns, span{start, time.Now()})
			b.mu.Unlock()
			return textResult("counted"), nil, nil
		})

	for _, r := range []struct{ uri, text string }{
		{"file:///docs/readme.md", "# Readme\npublic docs"},
		{"file:///private/x", "top secret"},
	} {
		s.AddResource(&mcp.Resource{URI: r.uri, Name: r.uri, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{
					{URI: req.Params.URI, MIMEType: "text/plain", Text: r.text},
				}}, nil
			})
	}

	for _, p := range []struct{ name, text string }{
		{"summarize", "Summarize the following."},
		{"secret_prompt", "The secret prompt."},
	} {
		s.AddPrompt(&mcp.Prompt{Name: p.name},
			func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{
					{Role: "user", Content: &mcp.TextContent{Text: p.text}},
				}}, nil
			})
	}
	return s
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// newBackend starts a backend in the given mode; it is closed when the test
// ends.
func newBackend(t *testing.T, mode backendMode) *backend {
	t.Helper()
	return newCustomBackend(t, mode, newMCPServer)
}

func (b *backend) countTool(name string) {
	b.mu.Lock()
	b.toolCalls[name]++
	b.mu.Unlock()
}

// record wraps the MCP handler: it keeps a copy of every request's method,
// path, headers and JSON-RPC messages, and the status answered.
func (b *backend) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sr := &seenRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
		if r.Method == http.MethodPost && r.Body != nil {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			sr.RPC = describeRPC(body)
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, sr)
		b.mu.Unlock()
		next.ServeHTTP(&testcaddy.StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
			b.mu.Lock()
			defer b.mu.Unlock()
			sr.Status = code
			sr.SessionID = w.Header().Get("Mcp-Session-Id")
		}}, r)
	})
}

// describeRPC renders the JSON-RPC messages of a body as "method target".
func describeRPC(body []byte) []string {
	type msg struct {
		Method *string `json:"method"`
		Params struct {
			Name string `json:"name"`
			URI  string `json:"uri"`
		} `json:"params"`
	}
	var msgs []msg
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		_ = json.Unmarshal(trimmed, &msgs)
	} else {
		var m msg
		if json.Unmarshal(trimmed, &m) == nil {
			msgs = []msg{m}
		}
	}
	var out []string
	for _, m := range msgs {
		if m.Method == nil {
			out = append(out, "response")
			continue
		}
		out = append(out, strings.TrimSpace(*m.Method+" "+m.Params.Name+m.Params.URI))
	}
	return out
}

// requests returns a snapshot of the requests received so far.
func (b *backend) requests() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]seenRequest, len(b.reqs))
	for i, r := range b.reqs {
		out[i] = *r
	}
	return out
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

func (b *backend) calls(tool string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.toolCalls[tool]
}

func (b *backend) lastSlowRun() (span, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.slowRuns) == 0 {
		return span{}, false
	}
	return b.slowRuns[len(b.slowRuns)-1], true
}

// sessionIDFor returns the id the backend itself issued for the session
// the client knows as clientSID. mcp_auth may hand the client a wrapped id
// (session binding: "<mac>.<backend id>"); the backend only ever sees its
// own.
func (b *backend) sessionIDFor(t *testing.T, clientSID string) string {
	t.Helper()
	for _, r := range b.requests() {
		if id := r.SessionID; id != "" && (clientSID == id || strings.HasSuffix(clientSID, "."+id)) {
			return id
		}
	}
	t.Fatalf("the backend never issued a session id that the client's %q stands for", clientSID)
	return ""
}

// sawRPC reports whether any forwarded POST carried the given
// "method target".
func (b *backend) sawRPC(desc string) bool {
	for _, r := range b.requests() {
		for _, m := range r.RPC {
			if m == desc {
				return true
			}
		}
	}
	return false
}

// assertNoAuthorization fails the test if any request that reached the
// backend carried an Authorization header.
func (b *backend) assertNoAuthorization(t *testing.T) {
	t.Helper()
	for i, r := range b.requests() {
		if v, ok := r.Header["Authorization"]; ok {
			t.Errorf("backend request %d (%s %s %v) carried Authorization %q: the token was passed through", i, r.Method, r.Path, r.RPC, v)
		}
	}
}

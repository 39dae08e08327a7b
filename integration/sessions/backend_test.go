package sessions_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// backend is a stateful go-sdk MCP server on loopback that records every
// request it gets; every Caddy of a test proxies to the same one.
type backend struct {
	Addr string

	mu    sync.Mutex
	reqs  []seen
	echos []string // the backend session id of each echo call
}

type seen struct {
	Method, SessionID string
	Status            int
}

type echoIn struct {
	Text string `json:"text"`
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	s := mcp.NewServer(&mcp.Implementation{Name: "sessions-backend", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echoes text."},
		func(_ context.Context, req *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			b.mu.Lock()
			b.echos = append(b.echos, req.Session.ID())
			b.mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Text}}}, nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		i := len(b.reqs)
		b.reqs = append(b.reqs, seen{Method: r.Method, SessionID: r.Header.Get("Mcp-Session-Id")})
		b.mu.Unlock()
		h.ServeHTTP(&testcaddy.StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
			b.mu.Lock()
			b.reqs[i].Status = code
			b.mu.Unlock()
		}}, r)
	}))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	b.Addr = strings.TrimPrefix(ts.URL, "http://")
	return b
}

// count is the number of requests received so far.
func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// echoSessions returns the backend session id of every echo call so far.
func (b *backend) echoSessions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.echos...)
}

// gets counts the GETs on a backend session answered with status.
func (b *backend) gets(sid string, status int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.reqs {
		if r.Method == http.MethodGet && r.SessionID == sid && r.Status == status {
			n++
		}
	}
	return n
}

// connect opens an SDK client session through a Caddy as the named token.
// Its transport opens a connection per request (see
// testcaddy.NoKeepAliveClient).
func connect(t *testing.T, endpoint, who string, standaloneSSE bool) *mcp.ClientSession {
	t.Helper()
	hc := testcaddy.NoKeepAliveClient()
	hc.Transport = testcaddy.Bearer{Token: tokenSecret[who], Base: hc.Transport}
	client := mcp.NewClient(&mcp.Implementation{Name: "sessions-client", Version: "1.0.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             endpoint,
		HTTPClient:           hc,
		DisableStandaloneSSE: !standaloneSSE,
	}, nil)
	if err != nil {
		t.Fatalf("%s: connect to %s: %v", who, endpoint, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if cs.ID() == "" {
		t.Fatalf("%s: no session id: the backend is not stateful", who)
	}
	return cs
}

// echo calls the echo tool on a session and checks the answer.
func echo(t *testing.T, cs *mcp.ClientSession, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
	if err != nil {
		t.Fatalf("echo %q: %v", text, err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("echo %q: %d content items", text, len(res.Content))
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "echo: "+text {
		t.Fatalf("echo %q answered %+v", text, res.Content[0])
	}
}

// backendID returns the backend's session id inside a wrapped one
// ("<mac>.<backend id>"), failing if the id is not wrapped.
func backendID(t *testing.T, wrapped string) string {
	t.Helper()
	mac, sid, ok := strings.Cut(wrapped, ".")
	if !ok || len(mac) != 43 || sid == "" {
		t.Fatalf("session id %q is not a wrapped <mac>.<id>", wrapped)
	}
	return sid
}

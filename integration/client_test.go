package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// codePermissionDenied is the JSON-RPC code mcp_auth answers a denied
// request with (mcpauth.CodePermissionDenied). Spelled out here so that a
// change of the published code fails these tests.
const codePermissionDenied = -32003

// bearerTransport adds "Authorization: Bearer <token>" to every request.
type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b *bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// newHTTPClient returns a client with its own connection pool (closed when
// the test ends) that presents token, if not empty.
func newHTTPClient(t *testing.T, token string, base *http.Transport) *http.Client {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	t.Cleanup(base.CloseIdleConnections)
	var rt http.RoundTripper = base
	if token != "" {
		rt = &bearerTransport{token: token, base: base}
	}
	return &http.Client{Transport: rt}
}

// session is a connected SDK client session and what it observed.
type session struct {
	*mcp.ClientSession
	progress chan progressEvent
}

type progressEvent struct {
	at     time.Time
	token  any
	amount float64
}

type connectOpts struct {
	endpoint        string
	token           string
	transport       *http.Transport // nil: a default transport
	noStandaloneSSE bool
}

// connect opens an MCP session through Caddy with the SDK client.
func connect(t *testing.T, o connectOpts) (*session, error) {
	t.Helper()
	if o.endpoint == "" {
		o.endpoint = httpEndpoint()
	}
	s := &session{progress: make(chan progressEvent, 64)}
	client := mcp.NewClient(&mcp.Implementation{Name: "integration-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			s.progress <- progressEvent{at: time.Now(), token: req.Params.ProgressToken, amount: req.Params.Progress}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             o.endpoint,
		HTTPClient:           newHTTPClient(t, o.token, o.transport),
		DisableStandaloneSSE: o.noStandaloneSSE,
		MaxRetries:           -1,
	}, nil)
	if err != nil {
		return nil, err
	}
	s.ClientSession = cs
	t.Cleanup(func() { _ = cs.Close() })
	return s, nil
}

func mustConnect(t *testing.T, o connectOpts) *session {
	t.Helper()
	s, err := connect(t, o)
	if err != nil {
		t.Fatalf("connect to %s: %v", o.endpoint, err)
	}
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// callText calls a tool that must succeed and returns its text.
func (s *session) callText(t *testing.T, name string, args map[string]any) string {
	t.Helper()
	res, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("tools/call %s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("tools/call %s: tool error: %v", name, res.Content)
	}
	return contentText(t, res.Content)
}

func contentText(t *testing.T, cs []mcp.Content) string {
	t.Helper()
	if len(cs) != 1 {
		t.Fatalf("want 1 content item, got %d", len(cs))
	}
	tc, ok := cs[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("want text content, got %T", cs[0])
	}
	return tc.Text
}

// assertDenied checks that err is the JSON-RPC permission-denied error of
// mcp_auth, and that its message names the method and the target.
func assertDenied(t *testing.T, err error, method, target string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s %s: want permission denied, got success", method, target)
	}
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) {
		t.Fatalf("%s %s: want a JSON-RPC error, got %T: %v", method, target, err, err)
	}
	if werr.Code != codePermissionDenied {
		t.Errorf("%s %s: code = %d, want %d (message %q)", method, target, werr.Code, codePermissionDenied, werr.Message)
	}
	if !strings.Contains(werr.Message, method) || !strings.Contains(werr.Message, target) {
		t.Errorf("%s %s: message %q does not name the method and the target", method, target, werr.Message)
	}
}

// rawResponse is an HTTP answer read whole.
type rawResponse struct {
	Status int
	Proto  string
	Header http.Header
	Body   []byte
}

// do sends one raw HTTP request and reads the whole answer.
func do(t *testing.T, client *http.Client, method, url, body string, header map[string]string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return rawResponse{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: b}
}

// jsonBody decodes a JSON answer, failing the test if it is not JSON.
func jsonBody(t *testing.T, r rawResponse, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%s", err, r.Body)
	}
}

// rpcErr is a JSON-RPC error response as sent on the wire.
type rpcErr struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Result json.RawMessage `json:"result"`
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

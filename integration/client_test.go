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

// codePermissionDenied is the JSON-RPC code mcp_auth answers a denied
// request with (mcpauth.CodePermissionDenied). Spelled out here so that a
// change of the published code fails these tests.
const codePermissionDenied = -32030

// responseHeaderTimeout bounds every wait for an answer's headers, so that
// a broken setup fails instead of hanging until the go test timeout.
const responseHeaderTimeout = 15 * time.Second

// newHTTPClient returns a client with its own connection pool (closed when
// the test ends) that presents token, if not empty.
func newHTTPClient(t *testing.T, token string, base *http.Transport) *http.Client {
	return newRecordingClient(t, token, base, nil)
}

// newRecordingClient is newHTTPClient that also keeps, in log (if not nil),
// every POST body with its application/json answer.
func newRecordingClient(t *testing.T, token string, base *http.Transport, log *wireLog) *http.Client {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	if base.ResponseHeaderTimeout == 0 {
		// A proxy that buffers an event stream would otherwise hang the
		// SDK's Connect, which waits for the GET stream's headers.
		base.ResponseHeaderTimeout = responseHeaderTimeout
	}
	t.Cleanup(base.CloseIdleConnections)
	var rt http.RoundTripper = base
	if log != nil {
		rt = &recordingTransport{log: log, base: rt}
	}
	if token != "" {
		rt = testcaddy.Bearer{Token: token, Base: rt}
	}
	return &http.Client{Transport: rt}
}

// exchange is a POSTed JSON-RPC message and the JSON answer to it, as they
// crossed the wire between the SDK client and Caddy.
type exchange struct {
	request  []byte
	status   int
	response []byte // nil when the answer was not application/json
}

type wireLog struct {
	mu        sync.Mutex
	exchanges []exchange
}

// recordingTransport tees POST bodies and their application/json answers
// into a wireLog. Event streams pass untouched.
type recordingTransport struct {
	log  *wireLog
	base http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPost || r.Body == nil {
		return rt.base.RoundTrip(r)
	}
	reqBody, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := rt.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	ex := exchange{request: reqBody, status: resp.StatusCode}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		ex.response = body
	}
	rt.log.mu.Lock()
	rt.log.exchanges = append(rt.log.exchanges, ex)
	rt.log.mu.Unlock()
	return resp, nil
}

// lastAnswerTo finds the latest JSON-RPC request for method and target sent
// through the log, and returns its id and the error that answered it.
func (l *wireLog) lastAnswerTo(t *testing.T, method, target string) (id json.RawMessage, answer rpcErr, status int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.exchanges) - 1; i >= 0; i-- {
		ex := l.exchanges[i]
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Name string `json:"name"`
				URI  string `json:"uri"`
			} `json:"params"`
		}
		if json.Unmarshal(ex.request, &req) != nil || req.Method != method || req.Params.Name+req.Params.URI != target {
			continue
		}
		if ex.response == nil {
			t.Fatalf("%s %s was answered %d without a JSON body", method, target, ex.status)
		}
		if err := json.Unmarshal(ex.response, &answer); err != nil {
			t.Fatalf("%s %s: answer is not a JSON-RPC message: %v\n%s", method, target, err, ex.response)
		}
		return req.ID, answer, ex.status
	}
	t.Fatalf("%s %s was never sent", method, target)
	return nil, rpcErr{}, 0
}

// session is a connected SDK client session and what it observed.
type session struct {
	*mcp.ClientSession
	progress chan progressEvent
	wire     *wireLog
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
	// wrap, if set, wraps the client's round tripper (outermost), e.g. to
	// add headers to every request.
	wrap func(http.RoundTripper) http.RoundTripper
}

// connect opens an MCP session through Caddy with the SDK client.
func connect(t *testing.T, o connectOpts) (*session, error) {
	t.Helper()
	if o.endpoint == "" {
		o.endpoint = httpEndpoint()
	}
	s := &session{progress: make(chan progressEvent, 64), wire: &wireLog{}}
	client := mcp.NewClient(&mcp.Implementation{Name: "integration-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			s.progress <- progressEvent{at: time.Now(), token: req.Params.ProgressToken, amount: req.Params.Progress}
		},
	})
	hc := newRecordingClient(t, o.token, o.transport, s.wire)
	if o.wrap != nil {
		hc.Transport = o.wrap(hc.Transport)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             o.endpoint,
		HTTPClient:           hc,
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
		where := o.endpoint
		if where == "" {
			where = httpEndpoint()
		}
		t.Fatalf("connect to %s: %v", where, err)
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

// assertDenied checks a call that mcp_auth must deny: on the wire, the
// answer to the request is a JSON-RPC error with the request's id, code
// -32030 and a message naming the method and the target; the SDK client
// returns that as an error whose text names both (TestDeniedCodeReadableByGoSDK
// checks that the SDK also exposes the code).
func (s *session) assertDenied(t *testing.T, err error, method, target string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s %s: want permission denied, got success", method, target)
	}
	if !strings.Contains(err.Error(), method) || !strings.Contains(err.Error(), target) {
		t.Errorf("%s %s: SDK error %q does not name the method and the target", method, target, err)
	}
	id, answer, _ := s.wire.lastAnswerTo(t, method, target)
	assertPermissionDenied(t, id, answer, method, target)
}

// assertPermissionDenied checks a JSON-RPC answer from mcp_auth.
func assertPermissionDenied(t *testing.T, id json.RawMessage, answer rpcErr, method, target string) {
	t.Helper()
	if answer.JSONRPC != "2.0" || answer.Error == nil || answer.Result != nil {
		t.Fatalf("%s %s: want a JSON-RPC error, got %+v", method, target, answer)
	}
	if !bytes.Equal(answer.ID, id) {
		t.Errorf("%s %s: answer id %s, want the request's id %s", method, target, answer.ID, id)
	}
	if answer.Error.Code != codePermissionDenied {
		t.Errorf("%s %s: code = %d, want %d (message %q)", method, target, answer.Error.Code, codePermissionDenied, answer.Error.Message)
	}
	if !strings.Contains(answer.Error.Message, method) || !strings.Contains(answer.Error.Message, target) {
		t.Errorf("%s %s: message %q does not name the method and the target", method, target, answer.Error.Message)
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

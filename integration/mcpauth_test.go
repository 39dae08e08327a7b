package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// authError is the body of a refusal outside JSON-RPC.
type authError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// TestNoTokenIsUnauthorized: every method of the transport without a token
// is answered 401 with an RFC 6750 challenge and a JSON body, and nothing
// reaches the backend.
func TestNoTokenIsUnauthorized(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	anon := newHTTPClient(t, "", nil)

	cases := []struct {
		method, body string
		header       map[string]string
	}{
		{http.MethodPost, initializeBody, nil},
		{http.MethodGet, "", map[string]string{"Accept": "text/event-stream", "Mcp-Session-Id": "some-session"}},
		{http.MethodDelete, "", map[string]string{"Mcp-Session-Id": "some-session"}},
		// Another scheme is no bearer token either.
		{http.MethodPost, initializeBody, map[string]string{"Authorization": "Basic YWxpY2U6YWxpY2Utc2VjcmV0LXRva2Vu"}},
	}
	for _, c := range cases {
		r := do(t, anon, c.method, httpEndpoint(), c.body, c.header)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s without a bearer token: status %d, want 401; body %s", c.method, r.Status, r.Body)
			continue
		}
		if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="mcp"`; got != want {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", c.method, got, want)
		}
		var e authError
		jsonBody(t, r, &e)
		if e.Error != "unauthorized" {
			t.Errorf("%s: body error = %q, want unauthorized; body %s", c.method, e.Error, r.Body)
		}
	}

	// The SDK client cannot even initialize.
	if _, err := connect(t, connectOpts{}); err == nil {
		t.Error("SDK client connected without a token")
	}
	if n := b.count(); n != 0 {
		t.Errorf("backend received %d request(s) from unauthenticated callers, want 0: %+v", n, b.requests())
	}
}

// TestUnknownTokenIsForbidden: a token that is not configured gets 403 with
// a JSON body, and nothing reaches the backend.
func TestUnknownTokenIsForbidden(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	const unknown = "not-a-configured-token"
	stranger := newHTTPClient(t, unknown, nil)

	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		body := ""
		if method == http.MethodPost {
			body = initializeBody
		}
		r := do(t, stranger, method, httpEndpoint(), body, map[string]string{"Mcp-Session-Id": "some-session"})
		if r.Status != http.StatusForbidden {
			t.Errorf("%s with an unknown token: status %d, want 403; body %s", method, r.Status, r.Body)
			continue
		}
		var e authError
		jsonBody(t, r, &e)
		if e.Error != "invalid_token" {
			t.Errorf("%s: body error = %q, want invalid_token; body %s", method, e.Error, r.Body)
		}
		if strings.Contains(string(r.Body), unknown) {
			t.Errorf("%s: the refusal echoes the token: %s", method, r.Body)
		}
	}

	if _, err := connect(t, connectOpts{token: unknown}); err == nil {
		t.Error("SDK client connected with an unknown token")
	}
	if n := b.count(); n != 0 {
		t.Errorf("backend received %d request(s) with an unknown token, want 0: %+v", n, b.requests())
	}
}

// TestOtherHTTPMethodsNotAllowed: PUT (and PATCH) are not part of the
// transport: 405 with an Allow header, whether or not a token is sent.
func TestOtherHTTPMethodsNotAllowed(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))

	for _, token := range []string{"", aliceToken} {
		c := newHTTPClient(t, token, nil)
		for _, method := range []string{http.MethodPut, http.MethodPatch} {
			r := do(t, c, method, httpEndpoint(), initializeBody, nil)
			if r.Status != http.StatusMethodNotAllowed {
				t.Errorf("%s (token %q): status %d, want 405; body %s", method, token, r.Status, r.Body)
				continue
			}
			if got, want := r.Header.Get("Allow"), "GET, POST, DELETE, OPTIONS"; got != want {
				t.Errorf("%s: Allow = %q, want %q", method, got, want)
			}
			var e authError
			jsonBody(t, r, &e)
			if e.Error == "" {
				t.Errorf("%s: JSON body without error: %s", method, r.Body)
			}
		}
	}
	if n := b.count(); n != 0 {
		t.Errorf("backend received %d request(s), want 0: %+v", n, b.requests())
	}
}

// postCount counts the POSTs the backend received.
func (b *backend) postCount() int {
	n := 0
	for _, r := range b.requests() {
		if r.Method == http.MethodPost {
			n++
		}
	}
	return n
}

// assertDeniedNotForwarded runs a call that must be denied by mcp_auth,
// checks the JSON-RPC error, and that no POST reached the backend for it.
func assertDeniedNotForwarded(t *testing.T, b *backend, s *session, method, target string, call func() error) {
	t.Helper()
	before := b.postCount()
	s.assertDenied(t, call(), method, target)
	if after := b.postCount(); after != before {
		t.Errorf("%s %s: denied, yet %d POST(s) reached the backend", method, target, after-before)
	}
	if b.sawRPC(method + " " + target) {
		t.Errorf("%s %s reached the backend", method, target)
	}
}

// waitForStream waits until the backend has answered a GET for the session
// with 200, that is until the standalone SSE stream is connected. sid is
// the client's session id.
func waitForStream(t *testing.T, b *backend, clientSID string) {
	t.Helper()
	sid := b.sessionIDFor(t, clientSID)
	testcaddy.WaitFor(t, 10*time.Second, "the standalone GET stream of session "+sid, func() bool {
		for _, r := range b.requests() {
			if r.Method == http.MethodGet && r.Header.Get("Mcp-Session-Id") == sid && r.Status == http.StatusOK {
				return true
			}
		}
		return false
	})
}

// waitForDelete waits until the backend has answered the DELETE that ends
// the session. sid is the client's session id.
func waitForDelete(t *testing.T, b *backend, clientSID string) {
	t.Helper()
	sid := b.sessionIDFor(t, clientSID)
	testcaddy.WaitFor(t, 10*time.Second, "the DELETE of session "+sid, func() bool {
		for _, r := range b.requests() {
			if r.Method == http.MethodDelete && r.Header.Get("Mcp-Session-Id") == sid && r.Status != 0 {
				if r.Status != http.StatusNoContent {
					t.Errorf("backend answered the DELETE %d, want 204", r.Status)
				}
				return true
			}
		}
		return false
	})
}

// TestReaderSession drives a whole session of the reader role through
// Caddy with the SDK client, for JSON and SSE replies: allowed calls work,
// denied ones get -32030 without reaching the backend and leave the session
// usable, the standalone GET stream is forwarded, closing the session
// forwards a DELETE, and the backend never sees the token.
func TestReaderSession(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newBackend(t, mode)
			startCaddy(t, plainSite(b.Addr))
			s := mustConnect(t, connectOpts{token: bobToken})
			sid := s.ID()
			if sid == "" {
				t.Fatal("no Mcp-Session-Id: the session was not established through Caddy")
			}
			t.Logf("protocol %s, session %s", s.InitializeResult().ProtocolVersion, sid)
			// The GET stream of a known token is forwarded.
			waitForStream(t, b, sid)
			ctx := ctxT(t)

			// Discovery is filtered down to what the role may use.
			s.assertLists(t, catalog{
				tools:     []string{"echo", "get_time"},
				resources: []string{"file:///docs/readme.md"},
				prompts:   []string{"summarize"},
			})
			if got := s.callText(t, "echo", map[string]any{"text": "hello"}); got != "echo: hello" {
				t.Errorf("echo = %q", got)
			}
			if got := s.callText(t, "get_time", nil); got == "" {
				t.Error("get_time returned nothing")
			}

			assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
				_, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
				return err
			})
			// The session survives a denial.
			if got := s.callText(t, "echo", map[string]any{"text": "still here"}); got != "echo: still here" {
				t.Errorf("echo after a denial = %q", got)
			}
			assertDeniedNotForwarded(t, b, s, "tools/call", "slow_count", func() error {
				_, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "slow_count", Arguments: map[string]any{"steps": 1}})
				return err
			})

			res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///docs/readme.md"})
			if err != nil {
				t.Fatalf("resources/read file:///docs/readme.md: %v", err)
			}
			if len(res.Contents) != 1 || !strings.Contains(res.Contents[0].Text, "public docs") {
				t.Errorf("resources/read file:///docs/readme.md = %+v", res.Contents)
			}
			assertDeniedNotForwarded(t, b, s, "resources/read", "file:///private/x", func() error {
				_, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///private/x"})
				return err
			})

			p, err := s.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summarize"})
			if err != nil {
				t.Fatalf("prompts/get summarize: %v", err)
			}
			if len(p.Messages) != 1 {
				t.Errorf("prompts/get summarize: %d messages", len(p.Messages))
			}
			assertDeniedNotForwarded(t, b, s, "prompts/get", "secret_prompt", func() error {
				_, err := s.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_prompt"})
				return err
			})

			// Still usable after three kinds of denial.
			if got := s.callText(t, "echo", map[string]any{"text": "bye"}); got != "echo: bye" {
				t.Errorf("final echo = %q", got)
			}
			if n := b.calls("delete_db") + b.calls("slow_count"); n != 0 {
				t.Errorf("denied tools ran %d time(s) on the backend", n)
			}

			// Closing the session sends a DELETE with the session id, which
			// mcp_auth authenticates and forwards.
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			waitForDelete(t, b, sid)
			b.assertNoAuthorization(t)
		})
	}
}

// catalog is what the lists of a session show, each sorted.
type catalog struct{ tools, resources, prompts []string }

// assertLists checks tools/list, resources/list and prompts/list.
func (s *session) assertLists(t *testing.T, want catalog) {
	t.Helper()
	ctx := ctxT(t)
	var got catalog
	tools, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	for _, x := range tools.Tools {
		got.tools = append(got.tools, x.Name)
	}
	resources, err := s.ListResources(ctx, nil)
	if err != nil {
		t.Fatalf("resources/list: %v", err)
	}
	for _, x := range resources.Resources {
		got.resources = append(got.resources, x.URI)
	}
	prompts, err := s.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatalf("prompts/list: %v", err)
	}
	for _, x := range prompts.Prompts {
		got.prompts = append(got.prompts, x.Name)
	}
	for _, l := range []struct {
		name      string
		got, want []string
	}{{"tools/list", got.tools, want.tools}, {"resources/list", got.resources, want.resources}, {"prompts/list", got.prompts, want.prompts}} {
		slices.Sort(l.got)
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s = %v, want %v", l.name, l.got, l.want)
		}
	}
}

// TestAdminSession: the admin role may do everything but delete_*: deny
// beats allow *.
func TestAdminSession(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	s := mustConnect(t, connectOpts{token: aliceToken})
	ctx := ctxT(t)

	s.assertLists(t, catalog{
		tools:     []string{"echo", "get_time", "slow_count"}, // delete_* is denied
		resources: []string{"file:///docs/readme.md", "file:///private/x"},
		prompts:   []string{"secret_prompt", "summarize"},
	})
	if got := s.callText(t, "echo", map[string]any{"text": "x"}); got != "echo: x" {
		t.Errorf("echo = %q", got)
	}
	if got := s.callText(t, "slow_count", map[string]any{"steps": 1}); got != "counted" {
		t.Errorf("slow_count = %q", got)
	}
	assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
		_, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
		return err
	})
	res, err := s.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///private/x"})
	if err != nil {
		t.Fatalf("admin resources/read file:///private/x: %v", err)
	}
	if len(res.Contents) != 1 || res.Contents[0].Text != "top secret" {
		t.Errorf("resources/read file:///private/x = %+v", res.Contents)
	}
	if _, err := s.GetPrompt(ctx, &mcp.GetPromptParams{Name: "secret_prompt"}); err != nil {
		t.Errorf("admin prompts/get secret_prompt: %v", err)
	}
	if got := s.callText(t, "get_time", nil); got == "" {
		t.Error("get_time after a denial returned nothing")
	}
	if n := b.calls("delete_db"); n != 0 {
		t.Errorf("delete_db ran %d time(s)", n)
	}
	b.assertNoAuthorization(t)
}

// runProgress calls slow_count with a progress token and checks that the
// progress notifications arrive through Caddy while the tool is still
// running, not buffered up to the result. The bounds are relative to the
// tool's own duration (steps × 150ms), never fixed small thresholds.
func runProgress(t *testing.T, b *backend, s *session) {
	t.Helper()
	const steps = 6 // 6 × 150ms = 900ms of tool time
	params := &mcp.CallToolParams{Name: "slow_count", Arguments: map[string]any{"steps": steps}}
	params.SetProgressToken("progress-1")

	start := time.Now()
	res, err := s.CallTool(ctxT(t), params)
	end := time.Now()
	if err != nil {
		t.Fatalf("slow_count: %v", err)
	}
	if got := contentText(t, res.Content); got != "counted" {
		t.Fatalf("slow_count = %q", got)
	}

	var events []progressEvent
	timeout := time.After(10 * time.Second)
	for len(events) < steps {
		select {
		case e := <-s.progress:
			events = append(events, e)
		case <-timeout:
			t.Fatalf("got %d of %d progress notifications", len(events), steps)
		}
	}
	for i, e := range events {
		if e.token != "progress-1" {
			t.Errorf("progress %d: token %v, want progress-1", i, e.token)
		}
		if e.amount != float64(i+1) {
			t.Errorf("progress %d: amount %v, want %d", i, e.amount, i+1)
		}
	}

	run, ok := b.lastSlowRun()
	if !ok {
		t.Fatal("the backend recorded no slow_count run")
	}
	toolTime := run.end.Sub(run.start)
	if toolTime < steps*slowStep {
		t.Fatalf("slow_count ran %v, want at least %v", toolTime, steps*slowStep)
	}
	first := events[0].at
	callTime := end.Sub(start)
	t.Logf("call %v, tool %v, first progress after %v, last after %v",
		callTime, toolTime, first.Sub(start), events[steps-1].at.Sub(start))
	// The first progress reached the client before the tool had finished
	// (same process, same monotonic clock), …
	if !first.Before(run.end) {
		t.Errorf("first progress arrived %v after the tool finished: it was buffered", first.Sub(run.end))
	}
	// … before the result, …
	if !first.Before(end) {
		t.Error("first progress arrived after the tool result")
	}
	// … and in the first half of the call.
	if got := first.Sub(start); got >= callTime/2 {
		t.Errorf("first progress arrived %v into a %v call, want within the first half", got, callTime)
	}
}

// TestProgressStreamsThroughCaddy: progress notifications of a running tool
// are flushed through mcp_auth and reverse_proxy as they are sent. With SSE
// replies they travel on the POST's own stream; with JSON replies on the
// standalone GET stream.
func TestProgressStreamsThroughCaddy(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newBackend(t, mode)
			startCaddy(t, plainSite(b.Addr))
			s := mustConnect(t, connectOpts{token: aliceToken})
			// In JSON mode the backend drops notifications until the GET
			// stream is connected.
			waitForStream(t, b, s.ID())
			runProgress(t, b, s)
			b.assertNoAuthorization(t)
		})
	}
}

// TestGetStreamRequiresToken: the standalone GET stream is opened for a
// known token and answered as an event stream through Caddy; without a
// token or with an unknown one it is refused before the backend.
func TestGetStreamRequiresToken(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	s := mustConnect(t, connectOpts{token: aliceToken, noStandaloneSSE: true})
	sid := s.ID()
	version := s.InitializeResult().ProtocolVersion
	header := map[string]string{
		"Accept":               "text/event-stream",
		"Mcp-Session-Id":       sid,
		"Mcp-Protocol-Version": version,
	}

	gets := func() int {
		n := 0
		for _, r := range b.requests() {
			if r.Method == http.MethodGet {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"wrong-token", http.StatusForbidden}} {
		r := do(t, newHTTPClient(t, c.token, nil), http.MethodGet, httpEndpoint(), "", header)
		if r.Status != c.want {
			t.Errorf("GET with token %q: status %d, want %d", c.token, r.Status, c.want)
		}
	}
	if n := gets(); n != 0 {
		t.Fatalf("%d refused GET(s) reached the backend", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpEndpoint(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := newHTTPClient(t, aliceToken, nil).Do(req)
	if err != nil {
		t.Fatalf("GET stream: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("GET stream: Content-Type %q, want text/event-stream", ct)
	}
	// The SDK writes an SSE comment at once; it must come through unbuffered
	// while the stream stays open.
	buf := make([]byte, 16)
	n, err := resp.Body.Read(buf)
	if n == 0 {
		t.Errorf("GET stream: nothing read from the open stream: %v", err)
	}
	cancel()
	if gets() != 1 {
		t.Errorf("backend saw %d GET(s), want 1", gets())
	}
	b.assertNoAuthorization(t)
}

// TestHandleBlockIsGuarded: mcp_auth at site level runs before a handle
// block, so `handle /mcp* { reverse_proxy … }` cannot bypass it. This
// proves the directive order (after forward_auth, before handle).
func TestHandleBlockIsGuarded(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, fmt.Sprintf(`http://localhost:%d {
%s	handle /mcp* {
		reverse_proxy %s
	}
	handle {
		respond "no MCP here" 404
	}
}
`, httpPort, mcpAuthBlock(), b.Addr))

	anon := newHTTPClient(t, "", nil)
	r := do(t, anon, http.MethodPost, httpEndpoint(), initializeBody, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("POST /mcp without a token through a handle block: status %d, want 401; body %s", r.Status, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="mcp"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	if n := b.count(); n != 0 {
		t.Fatalf("the handle block forwarded %d unauthenticated request(s)", n)
	}

	s := mustConnect(t, connectOpts{token: bobToken})
	if got := s.callText(t, "echo", map[string]any{"text": "via handle"}); got != "echo: via handle" {
		t.Errorf("echo = %q", got)
	}
	assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
		_, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
		return err
	})
	b.assertNoAuthorization(t)
}

// TestDenyWithStatus: with `deny_with status` a denied request is answered
// HTTP 403 with the JSON-RPC error body; the SDK client reads that body, and
// the session survives.
func TestDenyWithStatus(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr, "deny_with status"))

	alice := newHTTPClient(t, aliceToken, nil)
	r := do(t, alice, http.MethodPost, httpEndpoint(),
		`{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"delete_db","arguments":{}}}`, nil)
	if r.Status != http.StatusForbidden {
		t.Fatalf("denied tools/call: status %d, want 403; body %s", r.Status, r.Body)
	}
	var e rpcErr
	jsonBody(t, r, &e)
	assertPermissionDenied(t, json.RawMessage(`"call-7"`), e, "tools/call", "delete_db")
	if n := b.count(); n != 0 {
		t.Fatalf("backend received %d request(s), want 0", n)
	}

	// Through the SDK client: the 403's JSON-RPC body is surfaced as the
	// error, and the session goes on.
	for _, who := range []struct{ name, token string }{{"alice", aliceToken}, {"bob", bobToken}} {
		s := mustConnect(t, connectOpts{token: who.token})
		assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
			_, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
			return err
		})
		if got := s.callText(t, "echo", map[string]any{"text": who.name}); got != "echo: "+who.name {
			t.Errorf("%s: echo after a 403 = %q", who.name, got)
		}
	}
	b.assertNoAuthorization(t)
}

// TestBatchWithDeniedElementIsRefusedWhole: a JSON-RPC batch (revision
// 2025-03-26) with one denied element is refused as a whole: an error for
// every request in it, and nothing forwarded.
func TestBatchWithDeniedElementIsRefusedWhole(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	bob := newHTTPClient(t, bobToken, nil)

	batch := `[
		{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a"}}},
		{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_db","arguments":{}}},
		{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}
	]`
	r := do(t, bob, http.MethodPost, httpEndpoint(), batch, map[string]string{"Mcp-Protocol-Version": "2025-03-26"})
	if r.Status != http.StatusOK {
		t.Errorf("batch: status %d, want 200 (deny_with jsonrpc); body %s", r.Status, r.Body)
	}
	var answers []rpcErr
	jsonBody(t, r, &answers)
	if len(answers) != 2 {
		t.Fatalf("want one error per request (2), got %d: %s", len(answers), r.Body)
	}
	for _, a := range answers {
		if a.Error == nil || a.Error.Code != codePermissionDenied || a.Result != nil {
			t.Errorf("answer %s: want error %d, got %+v", a.ID, codePermissionDenied, a)
		}
	}
	if string(answers[0].ID) != "1" || string(answers[1].ID) != "2" {
		t.Errorf("ids = %s, %s; want 1, 2", answers[0].ID, answers[1].ID)
	}
	if msg := answers[1].Error.Message; !strings.Contains(msg, "tools/call") || !strings.Contains(msg, "delete_db") {
		t.Errorf("the denied element's message %q does not name tools/call delete_db", msg)
	}
	if msg := answers[0].Error.Message; !strings.Contains(msg, "batch") {
		t.Errorf("the allowed element's message %q does not say the batch was refused", msg)
	}
	if n := b.count(); n != 0 {
		t.Errorf("backend received %d request(s) from a refused batch, want 0: %+v", n, b.requests())
	}
	if b.calls("echo") != 0 {
		t.Error("the allowed element of a refused batch ran")
	}
}

// TestHTTPSWithInternalCA: an HTTPS site with `tls internal` carries an
// authenticated MCP session through mcp_auth (over HTTP/2), progress
// streaming included. The client trusts only the internal CA's root, read
// from Caddy's admin API; no InsecureSkipVerify.
func TestHTTPSWithInternalCA(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, fmt.Sprintf("https://localhost:%d {\n\ttls internal\n%s\treverse_proxy %s\n}\n", httpsPort, mcpAuthBlock(), b.Addr))

	pool := x509.NewCertPool()
	root := fetchRoot(t)
	if !pool.AppendCertsFromPEM([]byte(root)) {
		t.Fatalf("admin API returned no usable root certificate:\n%s", root)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	base.ForceAttemptHTTP2 = true
	endpoint := fmt.Sprintf("https://localhost:%d/mcp", httpsPort)

	// The certificate is issued in the background after the config loads:
	// wait for a verified handshake, which must answer 401 without a token.
	anon := newHTTPClient(t, "", base)
	var r rawResponse
	testcaddy.WaitFor(t, 30*time.Second, "a verified TLS handshake with the internal certificate", func() bool {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(initializeBody))
		req.Header.Set("Content-Type", "application/json")
		resp, err := anon.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		r = rawResponse{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header}
		return true
	})
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("HTTPS POST without a token: status %d, want 401", r.Status)
	}
	// HTTP/2 is where a proxy is most tempted to hold back an event
	// stream's headers; make sure that is the path exercised.
	if r.Proto != "HTTP/2.0" {
		t.Errorf("HTTPS answered over %s, want HTTP/2.0", r.Proto)
	}

	s := mustConnect(t, connectOpts{endpoint: endpoint, token: aliceToken, transport: base})
	if got := s.callText(t, "echo", map[string]any{"text": "tls"}); got != "echo: tls" {
		t.Errorf("echo over HTTPS = %q", got)
	}
	assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
		_, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
		return err
	})
	waitForStream(t, b, s.ID())
	runProgress(t, b, s)
	sid := s.ID()
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitForDelete(t, b, sid)
	b.assertNoAuthorization(t)
}

// fetchRoot reads the internal CA's root certificate (PEM) from Caddy's
// admin API.
func fetchRoot(t *testing.T) string {
	t.Helper()
	var ca struct {
		Root string `json:"root_certificate"`
	}
	testcaddy.WaitFor(t, 15*time.Second, "the local CA on the admin API", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/pki/ca/local")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		return json.NewDecoder(resp.Body).Decode(&ca) == nil && ca.Root != ""
	})
	return ca.Root
}

// TestStatelessBackend: against a stateless (sessionless) backend the SDK
// client first tries the 2026-07-28 protocol (server/discover), else falls
// back to initialize; mcp_auth must not break either path. (Which path each
// role ends on: TestKnownGapServerDiscoverNotLifecycle.)
func TestStatelessBackend(t *testing.T) {
	b := newBackend(t, backendMode{name: "stateless", stateless: true})
	startCaddy(t, plainSite(b.Addr))

	for _, who := range []struct{ name, token string }{{"alice", aliceToken}, {"bob", bobToken}} {
		s := mustConnect(t, connectOpts{token: who.token})
		t.Logf("%s negotiated protocol %s", who.name, s.InitializeResult().ProtocolVersion)
		if got := s.callText(t, "echo", map[string]any{"text": who.name}); got != "echo: "+who.name {
			t.Errorf("%s: echo = %q", who.name, got)
		}
		assertDeniedNotForwarded(t, b, s, "tools/call", "delete_db", func() error {
			_, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
			return err
		})
		if got := s.callText(t, "get_time", nil); got == "" {
			t.Errorf("%s: get_time after a denial returned nothing", who.name)
		}
	}
	if b.calls("delete_db") != 0 {
		t.Error("delete_db ran")
	}
	b.assertNoAuthorization(t)
}

// TestSessionBoundToPrincipal: a session id is no credential. Another
// token presenting alice's session id, or alice presenting an id the
// gateway did not issue to her, gets 404 (on which MCP clients start a new
// session) and nothing reaches the backend; alice's session goes on. Once
// the session has ended, the backend's own 404 for it is passed through.
func TestSessionBoundToPrincipal(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	alice := mustConnect(t, connectOpts{token: aliceToken, noStandaloneSSE: true})
	sid := alice.ID()
	backendSID := b.sessionIDFor(t, sid)
	version := alice.InitializeResult().ProtocolVersion

	const echoCall = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hijack"}}}`
	bob := newHTTPClient(t, bobToken, nil)
	aliceRaw := newHTTPClient(t, aliceToken, nil)
	before := b.count()
	for _, c := range []struct {
		what   string
		client *http.Client
		method string
		body   string
		sid    string
	}{
		{"bob POSTs on alice's session", bob, http.MethodPost, echoCall, sid},
		{"bob GETs alice's stream", bob, http.MethodGet, "", sid},
		{"bob DELETEs alice's session", bob, http.MethodDelete, "", sid},
		{"alice POSTs with an id the gateway did not issue", aliceRaw, http.MethodPost, echoCall, backendSID},
	} {
		r := do(t, c.client, c.method, httpEndpoint(), c.body, map[string]string{
			"Accept":               "application/json, text/event-stream",
			"Mcp-Session-Id":       c.sid,
			"Mcp-Protocol-Version": version,
		})
		if r.Status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404; body %s", c.what, r.Status, r.Body)
		}
	}
	if n := b.count() - before; n != 0 {
		t.Errorf("%d request(s) on a session of another principal reached the backend", n)
	}
	if b.calls("echo") != 0 {
		t.Error("echo ran for a hijacked session")
	}
	if got := alice.callText(t, "echo", map[string]any{"text": "mine"}); got != "echo: mine" {
		t.Errorf("alice's echo = %q", got)
	}

	// After the session ends, the backend answers 404 for it, and the
	// gateway passes that on rather than turning it into 401 or 403.
	if err := alice.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitForDelete(t, b, sid)
	before = b.count()
	r := do(t, aliceRaw, http.MethodPost, httpEndpoint(), echoCall, map[string]string{
		"Mcp-Session-Id":       sid,
		"Mcp-Protocol-Version": version,
	})
	if r.Status != http.StatusNotFound {
		t.Errorf("POST on an ended session: status %d, want the backend's 404; body %s", r.Status, r.Body)
	}
	if b.count() != before+1 {
		t.Errorf("the POST on an ended session did not reach the backend (%d requests)", b.count()-before)
	}
	b.assertNoAuthorization(t)
}

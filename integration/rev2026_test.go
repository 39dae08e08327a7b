package integration

// Revision 2026-07-28 with the Go SDK v1.8 on both ends: a stateless go-sdk
// server (which serves 2026-07-28 and, statelessly, every 2025 revision)
// behind Caddy with mcp_auth, driven by the go-sdk client and by raw
// requests shaped as each revision's clients send them. The server is the
// oracle: every tool run, resource read, prompt get and subscription it
// executes is counted (backend.calls), and every event it writes on a
// subscriptions/listen stream is kept, per caller (identity_header).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	rev2026      = "2026-07-28"
	carolToken   = "carol-secret-token" // role tooler
	revPublicDoc = "file:///public/readme.md"
	revPrivate   = "file:///private/secrets.txt"
	revListTTLMs = 60000
	codeVersion  = -32022
)

// revSite is the site of these tests. admin: everything but delete_all.
// reader: echo, the public resources (read and subscribe), greet. tooler:
// echo alone, so it may list tools and nothing else. extra lines go into
// the mcp_auth block.
func revSite(backendAddr string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `http://localhost:%d {
	mcp_auth {
		token alice %s admin
		token bob   %s reader
		token carol %s tooler
		role admin {
			allow *
			deny  tools/call delete_all
		}
		role reader {
			allow tools/call echo
			allow resources/read file:///public/*
			allow resources/subscribe file:///public/*
			allow prompts/get greet
		}
		role tooler {
			allow tools/call echo
		}
		identity_header X-MCP-User
`, httpPort, aliceToken, bobToken, carolToken)
	for _, l := range extra {
		b.WriteString("\t\t" + l + "\n")
	}
	fmt.Fprintf(&b, "\t}\n\treverse_proxy %s\n}\n", backendAddr)
	return b.String()
}

// revBackend is a stateless go-sdk server that counts executions in
// backend.calls ("tools/call echo", "resources/read <uri>", "prompts/get
// greet", "resources/subscribe <uri>") and keeps what it writes on every
// subscriptions/listen stream.
type revBackend struct {
	*backend
	srv *mcp.Server

	mu      sync.Mutex
	streams []*listenStream
}

// listenStream is one subscriptions/listen as the backend served it.
type listenStream struct {
	user string // the X-MCP-User mcp_auth set
	body []byte
	out  testcaddy.SyncBuffer
}

func newRevBackend(t *testing.T, json bool) *revBackend {
	t.Helper()
	rb := &revBackend{backend: &backend{toolCalls: map[string]int{}}}
	b := rb.backend
	s := mcp.NewServer(&mcp.Implementation{Name: "rev2026-backend", Version: "1.0.0"}, &mcp.ServerOptions{
		SubscribeHandler: func(_ context.Context, req *mcp.SubscribeRequest) error {
			b.countTool("resources/subscribe " + req.Params.URI)
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
		// The server's lists say public with a TTL: a "private" in a reply
		// is the gateway's doing.
		SetCacheable: func(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
			if _, ok := req.(*mcp.ReadResourceRequest); !ok {
				c.TTLMs, c.CacheScope = revListTTLMs, "public"
			}
		},
	})
	for _, name := range []string{"echo", "get_secret", "delete_all"} {
		mcp.AddTool(s, &mcp.Tool{Name: name, Description: "Tool " + name + "."},
			func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
				b.countTool("tools/call " + name)
				return textResult(name + ": " + in.Text), nil, nil
			})
	}
	for _, r := range []struct{ uri, text string }{
		{revPublicDoc, "public docs"},
		{"file:///public/news.md", "public news"},
		{revPrivate, "the launch code"},
	} {
		s.AddResource(&mcp.Resource{URI: r.uri, Name: r.uri, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				b.countTool("resources/read " + req.Params.URI)
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: r.text}}}, nil
			})
	}
	for _, name := range []string{"greet", "secret_prompt"} {
		s.AddPrompt(&mcp.Prompt{Name: name},
			func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
				b.countTool("prompts/get " + name)
				return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: name}}}}, nil
			})
	}
	rb.srv = s
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: json})
	ts := httptest.NewServer(b.record(rb.keepListens(h)))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	b.URL = ts.URL
	b.Addr = strings.TrimPrefix(ts.URL, "http://")
	return rb
}

// keepListens tees what the server writes on each subscriptions/listen.
func (rb *revBackend) keepListens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !bytes.Contains(body, []byte(`"subscriptions/listen"`)) {
			next.ServeHTTP(w, r)
			return
		}
		ls := &listenStream{user: r.Header.Get("X-MCP-User"), body: body}
		rb.mu.Lock()
		rb.streams = append(rb.streams, ls)
		rb.mu.Unlock()
		next.ServeHTTP(&revTeeWriter{ResponseWriter: w, to: &ls.out}, r)
	})
}

// listens returns the listen streams the backend served to user.
func (rb *revBackend) listens(user string) []*listenStream {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	var out []*listenStream
	for _, s := range rb.streams {
		if s.user == user {
			out = append(out, s)
		}
	}
	return out
}

// waitWritten waits until the backend has written want on a listen stream
// of user.
func (rb *revBackend) waitWritten(t *testing.T, user, want string) {
	t.Helper()
	testcaddy.WaitFor(t, 10*time.Second, fmt.Sprintf("the backend to write %s on %s's listen stream", want, user), func() bool {
		for _, s := range rb.listens(user) {
			if strings.Contains(s.out.String(), want) {
				return true
			}
		}
		return false
	})
}

type revTeeWriter struct {
	http.ResponseWriter
	to io.Writer
}

func (w *revTeeWriter) Write(p []byte) (int, error) {
	_, _ = w.to.Write(p)
	return w.ResponseWriter.Write(p)
}

func (w *revTeeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *revTeeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// meta2026 is the _meta a 2026-07-28 client puts on every request.
const meta2026 = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}`

// revRequest is one request as a client of revision rev sends it: the
// body and the headers. params is the params object without _meta.
func revRequest(rev, id, method, params, name string) (string, map[string]string) {
	h := map[string]string{}
	if rev != "2025-03-26" {
		h["MCP-Protocol-Version"] = rev
	}
	if rev == rev2026 {
		h["Mcp-Method"] = method
		if name != "" {
			h["Mcp-Name"] = name
		}
		if params == "{}" {
			params = `{"_meta":` + meta2026 + `}`
		} else {
			params = strings.TrimSuffix(params, "}") + `,"_meta":` + meta2026 + `}`
		}
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":%s}`, id, method, params), h
}

// rawListen is a subscriptions/listen stream read through Caddy.
type rawListen struct {
	status int
	ctype  string
	body   []byte // the whole answer, when it was not an event stream
	events chan json.RawMessage
}

// openListen posts a 2026-07-28 subscriptions/listen with the given
// params.notifications. An event-stream answer is read in the background
// until the test ends.
func openListen(t *testing.T, token, id, notifications string) *rawListen {
	t.Helper()
	body, h := revRequest(rev2026, id, "subscriptions/listen", `{"notifications":`+notifications+`}`, "")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, httpEndpoint(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := newHTTPClient(t, token, nil).Do(req)
	if err != nil {
		t.Fatalf("subscriptions/listen: %v", err)
	}
	l := &rawListen{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), events: make(chan json.RawMessage, 64)}
	if !strings.HasPrefix(l.ctype, "text/event-stream") {
		l.body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return l
	}
	go func() {
		defer resp.Body.Close()
		defer close(l.events)
		sc := bufio.NewScanner(resp.Body)
		var data []string
		for sc.Scan() {
			ln := sc.Text()
			if v, ok := strings.CutPrefix(ln, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
				continue
			}
			if ln == "" && len(data) > 0 {
				l.events <- json.RawMessage(strings.Join(data, "\n"))
				data = nil
			}
		}
	}()
	return l
}

// next returns the next JSON-RPC message on the stream.
func (l *rawListen) next(t *testing.T) (msg struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}, raw json.RawMessage) {
	t.Helper()
	select {
	case raw, ok := <-l.events:
		if !ok {
			t.Fatal("the listen stream ended")
		}
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatalf("listen event is not JSON: %v\n%s", err, raw)
		}
		return msg, raw
	case <-time.After(10 * time.Second):
		t.Fatal("no event on the listen stream within 10 s")
	}
	return msg, nil
}

// ackedURIs returns notifications.resourceSubscriptions of an
// acknowledgement.
func ackedURIs(t *testing.T, params json.RawMessage) []string {
	t.Helper()
	var p struct {
		Notifications struct {
			ResourceSubscriptions []string `json:"resourceSubscriptions"`
		} `json:"notifications"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		t.Fatal(err)
	}
	return p.Notifications.ResourceSubscriptions
}

// sseTee records the event streams a client receives, per JSON-RPC method
// of the request that opened them.
type sseTee struct {
	base http.RoundTripper
	mu   sync.Mutex
	got  map[string][]*testcaddy.SyncBuffer
}

func (s *sseTee) RoundTrip(r *http.Request) (*http.Response, error) {
	method := r.Header.Get("Mcp-Method")
	resp, err := s.base.RoundTrip(r)
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, err
	}
	buf := &testcaddy.SyncBuffer{}
	s.mu.Lock()
	s.got[method] = append(s.got[method], buf)
	s.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(resp.Body, buf), resp.Body}
	return resp, nil
}

func (s *sseTee) streams(method string) []*testcaddy.SyncBuffer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*testcaddy.SyncBuffer(nil), s.got[method]...)
}

// goClient is a go-sdk client session of 2026-07-28 with every list-changed
// handler and a resource-updated handler, so that it opens a listen stream
// at connect with every opt-in the server advertises.
type goClient struct {
	*session
	tee     *sseTee
	mu      sync.Mutex
	notes   []string // "tools", "prompts", "resources", "updated <uri>"
	arrived chan struct{}
}

func connectGo(t *testing.T, token string) *goClient {
	t.Helper()
	g := &goClient{tee: &sseTee{got: map[string][]*testcaddy.SyncBuffer{}}, arrived: make(chan struct{}, 64)}
	note := func(s string) {
		g.mu.Lock()
		g.notes = append(g.notes, s)
		g.mu.Unlock()
		g.arrived <- struct{}{}
	}
	sess := &session{progress: make(chan progressEvent, 64), wire: &wireLog{}}
	client := mcp.NewClient(&mcp.Implementation{Name: "rev2026-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { note("tools") },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { note("prompts") },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { note("resources") },
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			note("updated " + req.Params.URI)
		},
	})
	hc := newRecordingClient(t, token, nil, sess.wire)
	g.tee.base = hc.Transport
	hc.Transport = g.tee
	cs, err := client.Connect(ctxT(t), &mcp.StreamableClientTransport{Endpoint: httpEndpoint(), HTTPClient: hc, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	sess.ClientSession = cs
	g.session = sess
	return g
}

func (g *goClient) received() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.notes...)
}

// waitNote waits until the client has received want.
func (g *goClient) waitNote(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, n := range g.received() {
			if n == want {
				return
			}
		}
		select {
		case <-g.arrived:
		case <-deadline:
			t.Fatalf("the client never received %q; it received %q", want, g.received())
		}
	}
}

// TestRev2026GoSDK: the go-sdk 1.8 client on 2026-07-28 through mcp_auth to
// a stateless go-sdk server: the listen stream it opens at connect, the
// filtered private lists, denied calls, and judged subscriptions.
func TestRev2026GoSDK(t *testing.T) {
	rb := newRevBackend(t, false)
	startCaddy(t, revSite(rb.Addr))

	roles := map[string]struct {
		token                    string
		tools, prompts, resource []string
	}{
		"alice": {aliceToken, []string{"echo", "get_secret"}, []string{"greet", "secret_prompt"}, []string{"file:///private/secrets.txt", "file:///public/news.md", "file:///public/readme.md"}},
		"bob":   {bobToken, []string{"echo"}, []string{"greet"}, []string{"file:///public/news.md", "file:///public/readme.md"}},
		"carol": {carolToken, []string{"echo"}, nil, nil},
	}
	// Connected here, so that the sessions outlive the subtests.
	clients := map[string]*goClient{}
	for _, who := range []string{"alice", "bob", "carol"} {
		clients[who] = connectGo(t, roles[who].token)
	}

	t.Run("connect opens the listen stream with every opt-in, for every role", func(t *testing.T) {
		for _, who := range []string{"alice", "bob", "carol"} {
			g := clients[who]
			if v := g.InitializeResult().ProtocolVersion; v != rev2026 {
				t.Fatalf("%s negotiated %q", who, v)
			}
			// The backend served the listen and acknowledged all three opt-ins …
			rb.waitWritten(t, "token:"+who, "notifications/subscriptions/acknowledged")
			ls := rb.listens("token:" + who)
			if len(ls) != 1 || !strings.Contains(string(ls[0].body), `"toolsListChanged":true`) ||
				!strings.Contains(string(ls[0].body), `"promptsListChanged":true`) || !strings.Contains(string(ls[0].body), `"resourcesListChanged":true`) {
				t.Fatalf("%s: the backend got listens %v", who, ls)
			}
			// … and the client got that acknowledgement, unchanged, on an
			// event stream: not a refusal.
			testcaddy.WaitFor(t, 10*time.Second, who+"'s listen acknowledgement", func() bool {
				st := g.tee.streams("subscriptions/listen")
				return len(st) == 1 && strings.Contains(st[0].String(), "notifications/subscriptions/acknowledged")
			})
			got := g.tee.streams("subscriptions/listen")[0].String()
			for _, opt := range []string{"toolsListChanged", "promptsListChanged", "resourcesListChanged"} {
				if !strings.Contains(got, `"`+opt+`":true`) {
					t.Errorf("%s: the acknowledgement lost %s: %s", who, opt, got)
				}
			}
		}
	})

	t.Run("lists are filtered and marked private, the TTL kept", func(t *testing.T) {
		for who, want := range roles {
			g := clients[who]
			tools, err := g.ListTools(ctxT(t), nil)
			if err != nil {
				t.Fatalf("%s tools/list: %v", who, err)
			}
			revCheckList(t, who+" tools", revNames(tools.Tools, func(x *mcp.Tool) string { return x.Name }), want.tools, tools.Cacheable)

			prompts, err := g.ListPrompts(ctxT(t), nil)
			if want.prompts == nil {
				g.assertDenied(t, err, "prompts/list", "")
			} else if err != nil {
				t.Fatalf("%s prompts/list: %v", who, err)
			} else {
				revCheckList(t, who+" prompts", revNames(prompts.Prompts, func(x *mcp.Prompt) string { return x.Name }), want.prompts, prompts.Cacheable)
			}

			res, err := g.ListResources(ctxT(t), nil)
			if want.resource == nil {
				g.assertDenied(t, err, "resources/list", "")
			} else if err != nil {
				t.Fatalf("%s resources/list: %v", who, err)
			} else {
				revCheckList(t, who+" resources", revNames(res.Resources, func(x *mcp.Resource) string { return x.URI }), want.resource, res.Cacheable)
			}
		}
	})

	t.Run("denied calls are errors that run nothing; the client goes on", func(t *testing.T) {
		bob := clients["bob"]
		_, err := bob.CallTool(ctxT(t), &mcp.CallToolParams{Name: "get_secret", Arguments: map[string]any{"text": "x"}})
		bob.assertDenied(t, err, "tools/call", "get_secret")
		if got := bob.callText(t, "echo", map[string]any{"text": "after"}); got != "echo: after" {
			t.Errorf("echo after a denial = %q", got)
		}
		_, err = bob.ReadResource(ctxT(t), &mcp.ReadResourceParams{URI: revPrivate})
		bob.assertDenied(t, err, "resources/read", revPrivate)
		if _, err := bob.ReadResource(ctxT(t), &mcp.ReadResourceParams{URI: revPublicDoc}); err != nil {
			t.Errorf("read %s: %v", revPublicDoc, err)
		}
		_, err = bob.GetPrompt(ctxT(t), &mcp.GetPromptParams{Name: "secret_prompt"})
		bob.assertDenied(t, err, "prompts/get", "secret_prompt")
		if _, err := bob.GetPrompt(ctxT(t), &mcp.GetPromptParams{Name: "greet"}); err != nil {
			t.Errorf("greet: %v", err)
		}
		alice := clients["alice"]
		_, err = alice.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_all", Arguments: map[string]any{"text": "x"}})
		alice.assertDenied(t, err, "tools/call", "delete_all")

		for _, k := range []string{"tools/call get_secret", "tools/call delete_all", "resources/read " + revPrivate, "prompts/get secret_prompt"} {
			if n := rb.calls(k); n != 0 {
				t.Errorf("%s ran %d times", k, n)
			}
		}
		for _, k := range []string{"tools/call echo", "resources/read " + revPublicDoc, "prompts/get greet"} {
			if n := rb.calls(k); n != 1 {
				t.Errorf("%s ran %d times, want 1", k, n)
			}
		}
	})

	t.Run("Subscribe: allowed URIs carry updates, a denied one is refused naming the URI", func(t *testing.T) {
		bob := clients["bob"]
		if err := bob.Subscribe(ctxT(t), &mcp.SubscribeParams{URI: revPublicDoc}); err != nil {
			t.Fatal(err)
		}
		rb.waitWritten(t, "token:bob", revPublicDoc) // subscribed and acknowledged
		if err := rb.srv.ResourceUpdated(ctxT(t), &mcp.ResourceUpdatedNotificationParams{URI: revPublicDoc}); err != nil {
			t.Fatal(err)
		}
		bob.waitNote(t, "updated "+revPublicDoc)

		// The go-sdk client sends the listen without awaiting its answer:
		// the refusal is on the wire.
		if err := bob.Subscribe(ctxT(t), &mcp.SubscribeParams{URI: revPrivate}); err != nil {
			t.Fatal(err)
		}
		testcaddy.WaitFor(t, 10*time.Second, "the answer to the private listen", func() bool {
			return bob.wire.listenAnswer(revPrivate) != nil
		})
		ex := bob.wire.listenAnswer(revPrivate)
		var ans rpcErr
		if err := json.Unmarshal(ex.response, &ans); err != nil || ans.Error == nil {
			t.Fatalf("the private listen was answered %d %s", ex.status, ex.response)
		}
		var req struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal(ex.request, &req)
		assertPermissionDenied(t, req.ID, ans, "resources/subscribe", revPrivate)
		if ans.Error.Message != `permission denied: resources/subscribe "`+revPrivate+`"` {
			t.Errorf("message %q", ans.Error.Message)
		}
		for _, ls := range rb.listens("token:bob") {
			if strings.Contains(string(ls.body), revPrivate) {
				t.Errorf("the denied listen reached the backend: %s", ls.body)
			}
		}
		if n := rb.calls("resources/subscribe " + revPrivate); n != 0 {
			t.Errorf("the backend subscribed bob to %s", revPrivate)
		}
	})

	t.Run("list_changed notifications follow list permissions", func(t *testing.T) {
		// carol may list tools only. Prompts and resources change first; once
		// the backend has written both on carol's stream, the tools change
		// follows on the same stream: when it arrives, the two before it
		// would have arrived first.
		rb.srv.AddPrompt(&mcp.Prompt{Name: "new_prompt"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{}, nil
		})
		rb.srv.AddResource(&mcp.Resource{URI: "file:///public/new.md", Name: "new"}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{}, nil
		})
		for _, who := range []string{"alice", "bob", "carol"} {
			rb.waitWritten(t, "token:"+who, "notifications/prompts/list_changed")
			rb.waitWritten(t, "token:"+who, "notifications/resources/list_changed")
		}
		mcp.AddTool(rb.srv, &mcp.Tool{Name: "new_tool"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			return textResult("new"), nil, nil
		})
		for _, who := range []string{"alice", "bob", "carol"} {
			clients[who].waitNote(t, "tools")
		}
		listChanges := func(who string) (out []string) {
			for _, n := range clients[who].received() {
				if !strings.HasPrefix(n, "updated ") {
					out = append(out, n)
				}
			}
			return out
		}
		if got := listChanges("carol"); len(got) != 1 || got[0] != "tools" {
			t.Errorf("carol (tools only) received %q, want only the tools change", got)
		}
		for _, who := range []string{"alice", "bob"} {
			got := strings.Join(listChanges(who), ",")
			if !strings.Contains(got, "prompts") || !strings.Contains(got, "resources") || !strings.Contains(got, "tools") {
				t.Errorf("%s received %q, want all three changes", who, got)
			}
		}
	})
}

// listenAnswer returns the exchange of a subscriptions/listen naming uri
// that was answered with JSON (a refusal), or nil.
func (l *wireLog) listenAnswer(uri string) *exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.exchanges {
		ex := l.exchanges[i]
		if bytes.Contains(ex.request, []byte(`"subscriptions/listen"`)) && bytes.Contains(ex.request, []byte(uri)) && ex.response != nil {
			return &ex
		}
	}
	return nil
}

func revNames[T any](items []T, name func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, name(it))
	}
	slices.Sort(out)
	return out
}

func revCheckList(t *testing.T, what string, got, want []string, c mcp.Cacheable) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
	if c.CacheScope != "private" {
		t.Errorf("%s: cacheScope %q, want private", what, c.CacheScope)
	}
	if c.TTLMs != revListTTLMs {
		t.Errorf("%s: ttlMs %d, want the backend's %d", what, c.TTLMs, revListTTLMs)
	}
}

// TestRev2026ListenHideDenied: with hide_denied a listen naming a denied
// URI is forwarded as sent, and its stream is filtered: the denied URI is
// cut from the acknowledgement and its updates are withheld. Raw listens,
// because the go-sdk client opens one stream per URI.
func TestRev2026ListenHideDenied(t *testing.T) {
	rb := newRevBackend(t, false)
	startCaddy(t, revSite(rb.Addr, "hide_denied"))

	both := `{"resourceSubscriptions":["` + revPublicDoc + `","` + revPrivate + `"]}`
	bob := openListen(t, bobToken, `"bob-1"`, both)
	alice := openListen(t, aliceToken, `"alice-1"`, both)
	for who, l := range map[string]*rawListen{"bob": bob, "alice": alice} {
		if l.status != http.StatusOK || !strings.HasPrefix(l.ctype, "text/event-stream") {
			t.Fatalf("%s's listen: %d %s %s", who, l.status, l.ctype, l.body)
		}
	}
	ack, raw := bob.next(t)
	if ack.Method != "notifications/subscriptions/acknowledged" {
		t.Fatalf("bob's first event: %s", raw)
	}
	if got := ackedURIs(t, ack.Params); len(got) != 1 || got[0] != revPublicDoc {
		t.Errorf("bob's acknowledgement names %q, want only %s: %s", got, revPublicDoc, raw)
	}
	if ack, _ := alice.next(t); len(ackedURIs(t, ack.Params)) != 2 {
		t.Errorf("alice's acknowledgement: %s", ack.Params)
	}
	// Forwarded as sent: the backend subscribed both callers to both, and
	// its own acknowledgement to bob named the private one.
	if n := rb.calls("resources/subscribe " + revPrivate); n != 2 {
		t.Errorf("the backend subscribed %d callers to %s, want 2", n, revPrivate)
	}
	if ls := rb.listens("token:bob"); len(ls) != 1 || !strings.Contains(ls[0].out.String(), revPrivate) {
		t.Errorf("the backend's listen streams for bob: %d", len(ls))
	}

	// On one stream, the private update is written before the public one:
	// when the public one arrives, the private one would have come first.
	for round := 1; round <= 2; round++ {
		for _, uri := range []string{revPrivate, revPublicDoc} {
			if err := rb.srv.ResourceUpdated(ctxT(t), &mcp.ResourceUpdatedNotificationParams{URI: uri}); err != nil {
				t.Fatal(err)
			}
		}
		msg, raw := bob.next(t)
		if msg.Method != "notifications/resources/updated" || !bytes.Contains(raw, []byte(revPublicDoc)) {
			t.Errorf("round %d: bob got %s, want the update of %s", round, raw, revPublicDoc)
		}
		for _, uri := range []string{revPrivate, revPublicDoc} {
			msg, raw := alice.next(t)
			if msg.Method != "notifications/resources/updated" || !bytes.Contains(raw, []byte(uri)) {
				t.Errorf("round %d: alice got %s, want the update of %s", round, raw, uri)
			}
		}
	}
	if n := strings.Count(rb.listens("token:bob")[0].out.String(), `"uri":"`+revPrivate+`"`); n != 2 {
		t.Errorf("the backend wrote %d private updates on bob's stream, want 2 (the test proves nothing otherwise)", n)
	}
}

// TestRev2026DowngradeWeakensNothing: the same denied calls (a tool, a
// resource read, a prompt, a subscription) sent as clients of 2025-03-26,
// 2025-06-18, 2025-11-25 and 2026-07-28 send them are refused identically,
// and none runs on the backend; the admin's identical requests (another
// token, the same bytes) do run, under every revision.
func TestRev2026DowngradeWeakensNothing(t *testing.T) {
	rb := newRevBackend(t, true)
	startCaddy(t, revSite(rb.Addr))
	bob := newHTTPClient(t, bobToken, nil)
	alice := newHTTPClient(t, aliceToken, nil)

	calls := []struct {
		method, params, name, ran string
		listen                    bool // 2026-07-28 subscribes on subscriptions/listen
	}{
		{"tools/call", `{"name":"get_secret","arguments":{"text":"x"}}`, "get_secret", "tools/call get_secret", false},
		{"resources/read", `{"uri":"` + revPrivate + `"}`, revPrivate, "resources/read " + revPrivate, false},
		{"prompts/get", `{"name":"secret_prompt"}`, "secret_prompt", "prompts/get secret_prompt", false},
		{"resources/subscribe", `{"uri":"` + revPrivate + `"}`, revPrivate, "resources/subscribe " + revPrivate, true},
	}
	revisions := []string{"2025-03-26", "2025-06-18", "2025-11-25", rev2026}
	refusals := map[string]string{} // by call: the first revision's answer
	for ri, rev := range revisions {
		for ci, c := range calls {
			id := fmt.Sprint(100 + ci)
			method, params, name := c.method, c.params, c.name
			if rev == rev2026 && c.listen {
				method, params, name = "subscriptions/listen", `{"notifications":{"resourceSubscriptions":["`+revPrivate+`"]}}`, ""
			}
			body, h := revRequest(rev, id, method, params, name)
			before := rb.calls(c.ran)

			// The admin's request runs: this revision's shape is one the
			// backend executes.
			if method == "subscriptions/listen" {
				l := openListen(t, aliceToken, id, `{"resourceSubscriptions":["`+revPrivate+`"]}`)
				if l.status != http.StatusOK {
					t.Fatalf("%s: admin's listen: %d %s", rev, l.status, l.body)
				}
				l.next(t) // the acknowledgement: subscribed
			} else {
				r := do(t, alice, http.MethodPost, httpEndpoint(), body, h)
				if r.Status != http.StatusOK || bytes.Contains(rpcMessage(t, r), []byte(`"error"`)) {
					t.Fatalf("%s: admin's %s: %d %s", rev, method, r.Status, r.Body)
				}
			}
			if got := rb.calls(c.ran); got != before+1 {
				t.Fatalf("%s: the admin's %s ran %d times, want 1", rev, method, got-before)
			}

			// The reader's is refused, and runs nothing.
			var status int
			var ctype string
			var got []byte
			if method == "subscriptions/listen" {
				// Read as a stream: if it were forwarded, it would stay open.
				l := openListen(t, bobToken, id, `{"resourceSubscriptions":["`+revPrivate+`"]}`)
				status, ctype, got = l.status, l.ctype, l.body
			} else {
				r := do(t, bob, http.MethodPost, httpEndpoint(), body, h)
				status, ctype, got = r.Status, r.Header.Get("Content-Type"), r.Body
			}
			want := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32030,"message":"permission denied: %s \"%s\""}}`, id, c.method, c.name)
			if status != http.StatusOK || string(bytes.TrimSpace(got)) != want || !strings.HasPrefix(ctype, "application/json") {
				t.Errorf("%s %s: got %d %q %s\nwant 200 application/json %s", rev, method, status, ctype, got, want)
			}
			if ri == 0 {
				refusals[c.ran] = string(got)
			} else if string(got) != refusals[c.ran] {
				t.Errorf("%s %s: refused as %s, but under %s as %s", rev, method, got, revisions[0], refusals[c.ran])
			}
			if got := rb.calls(c.ran); got != before+1 {
				t.Errorf("%s: the reader's denied %s ran on the backend", rev, method)
			}
		}
	}
	// Nothing of bob's naming a denied item reached the backend.
	for _, r := range rb.requests() {
		if r.Header.Get("X-MCP-User") != "token:bob" {
			continue
		}
		for _, m := range r.RPC {
			t.Errorf("the backend received %q from bob", m)
		}
	}
}

// TestRev2026MinProtocolVersion: min_protocol_version 2025-06-18 refuses
// older revisions (a request that names none is 2025-03-26) with 400 and
// -32022 before anything is forwarded; 2025-06-18 and later pass.
func TestRev2026MinProtocolVersion(t *testing.T) {
	rb := newRevBackend(t, true)
	startCaddy(t, revSite(rb.Addr, "min_protocol_version 2025-06-18"))
	alice := newHTTPClient(t, aliceToken, nil)
	echo := `{"name":"echo","arguments":{"text":"v"}}`

	refused := []struct {
		what, body string
		header     map[string]string
		rev        string
	}{
		{"no version header (2025-03-26)", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + echo + `}`, nil, "2025-03-26"},
		{"MCP-Protocol-Version 2025-03-26", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + echo + `}`, map[string]string{"MCP-Protocol-Version": "2025-03-26"}, "2025-03-26"},
		{"MCP-Protocol-Version 2024-11-05", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + echo + `}`, map[string]string{"MCP-Protocol-Version": "2024-11-05"}, "2024-11-05"},
		{"initialize 2025-03-26", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil, "2025-03-26"},
		{"an unknown revision", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":` + echo + `}`, map[string]string{"MCP-Protocol-Version": "2099-01-01"}, "2099-01-01"},
	}
	for _, c := range refused {
		n := rb.count()
		r := do(t, alice, http.MethodPost, httpEndpoint(), c.body, c.header)
		var ans rpcErr
		jsonBody(t, r, &ans)
		if r.Status != http.StatusBadRequest || ans.Error == nil || ans.Error.Code != codeVersion || string(ans.ID) != "1" {
			t.Errorf("%s: got %d %s, want 400 with error %d", c.what, r.Status, r.Body, codeVersion)
			continue
		}
		if want := `unsupported protocol version "` + c.rev + `": this endpoint accepts 2025-06-18 and later`; ans.Error.Message != want {
			t.Errorf("%s: message %q, want %q", c.what, ans.Error.Message, want)
		}
		if rb.count() != n {
			t.Errorf("%s: forwarded", c.what)
		}
	}
	if n := rb.calls("tools/call echo"); n != 0 {
		t.Fatalf("echo ran %d times under refused revisions", n)
	}

	for i, rev := range []string{"2025-06-18", "2025-11-25", rev2026} {
		body, h := revRequest(rev, "2", "tools/call", echo, "echo")
		r := do(t, alice, http.MethodPost, httpEndpoint(), body, h)
		if r.Status != http.StatusOK || !bytes.Contains(rpcMessage(t, r), []byte(`"echo: v"`)) {
			t.Errorf("%s: got %d %s", rev, r.Status, r.Body)
		}
		if n := rb.calls("tools/call echo"); n != i+1 {
			t.Errorf("%s: echo ran %d times in all, want %d", rev, n, i+1)
		}
	}

	// The go-sdk client: pinned to 2025-03-26 it cannot connect; at
	// 2025-06-18 and by default (2026-07-28) it can.
	for _, c := range []struct {
		rev  string
		fail bool
	}{{"2025-03-26", true}, {"2025-06-18", false}, {"", false}} {
		client := mcp.NewClient(&mcp.Implementation{Name: "min-version", Version: "1"}, nil)
		log := &wireLog{}
		cs, err := client.Connect(ctxT(t), &mcp.StreamableClientTransport{
			Endpoint: httpEndpoint(), HTTPClient: newRecordingClient(t, aliceToken, nil, log), MaxRetries: -1, DisableStandaloneSSE: true,
		}, &mcp.ClientSessionOptions{ProtocolVersion: c.rev})
		if c.fail {
			if err == nil {
				cs.Close()
				t.Errorf("the go-sdk client connected at %s", c.rev)
				continue
			}
			// Its initialize was the module's to refuse.
			_, ans, status := log.lastAnswerTo(t, "initialize", "")
			if status != http.StatusBadRequest || ans.Error == nil || ans.Error.Code != codeVersion {
				t.Errorf("initialize at %s answered %d %+v", c.rev, status, ans)
			}
			continue
		}
		if err != nil {
			t.Errorf("connect at %q: %v", c.rev, err)
			continue
		}
		want := c.rev
		if want == "" {
			want = rev2026
		}
		if got := cs.InitializeResult().ProtocolVersion; got != want {
			t.Errorf("connected at %q, want %q", got, want)
		}
		cs.Close()
	}
}

// TestRev2026MinProtocolVersionErrorData: the -32022 answer has the shape
// revision 2026-07-28 gives UnsupportedProtocolVersionError (schema.ts:
// error.data = {supported: string[], requested: string}, both required),
// which is also what 2025-06-18's initialize error for an unsupported
// version carries.
func TestRev2026MinProtocolVersionErrorData(t *testing.T) {
	rb := newRevBackend(t, true)
	startCaddy(t, revSite(rb.Addr, "min_protocol_version 2025-06-18"))
	r := do(t, newHTTPClient(t, aliceToken, nil), http.MethodPost, httpEndpoint(),
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"v"}}}`,
		map[string]string{"MCP-Protocol-Version": "2025-03-26"})
	var ans struct {
		Error struct {
			Code int `json:"code"`
			Data *struct {
				Supported []string `json:"supported"`
				Requested string   `json:"requested"`
			} `json:"data"`
		} `json:"error"`
	}
	jsonBody(t, r, &ans)
	if ans.Error.Code != codeVersion {
		t.Fatalf("code %d: %s", ans.Error.Code, r.Body)
	}
	if ans.Error.Data == nil || ans.Error.Data.Requested != "2025-03-26" || len(ans.Error.Data.Supported) == 0 {
		t.Fatalf("-32022 without data {supported, requested}: %s", r.Body)
	}
	for _, v := range ans.Error.Data.Supported {
		if v < "2025-06-18" {
			t.Errorf("data.supported lists %s, below the minimum: %s", v, r.Body)
		}
	}
}

// TestRev2026MinProtocolVersionInitializeDowngrade: an initialize whose
// body asks for 2025-03-26 under an MCP-Protocol-Version header of
// 2025-06-18. The backend negotiates from the body (go-sdk answers
// protocolVersion 2025-03-26 and keeps the session at it), so the header
// and the body name two revisions, one of them below min_protocol_version:
// the module must refuse it rather than let the backend open a 2025-03-26
// session on a 2025-06-18-and-later route.
func TestRev2026MinProtocolVersionInitializeDowngrade(t *testing.T) {
	b := newBackend(t, modeJSON) // stateful: the negotiated revision sticks to the session
	startCaddy(t, plainSite(b.Addr, "min_protocol_version 2025-06-18"))
	alice := newHTTPClient(t, aliceToken, nil)
	n := b.count()
	r := do(t, alice, http.MethodPost, httpEndpoint(),
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		map[string]string{"MCP-Protocol-Version": "2025-06-18"})
	if r.Status == http.StatusBadRequest && b.count() == n {
		return
	}
	var res struct {
		Result struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
	}
	_ = json.Unmarshal(rpcMessage(t, r), &res)
	// The session goes on: the module lets requests under the header's
	// revision through, and the backend serves them in its 2025-03-26
	// session.
	sid := r.Header.Get("Mcp-Session-Id")
	h := map[string]string{"MCP-Protocol-Version": "2025-06-18", "Mcp-Session-Id": sid}
	do(t, alice, http.MethodPost, httpEndpoint(), `{"jsonrpc":"2.0","method":"notifications/initialized"}`, h)
	call := do(t, alice, http.MethodPost, httpEndpoint(), `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"old"}}}`, h)
	t.Logf("then tools/call echo in that session: %d %s (echo ran %d times)", call.Status, rpcMessage(t, call), b.calls("echo"))
	t.Fatalf("initialize asking for 2025-03-26 (header 2025-06-18) was forwarded (%d requests reached the backend) and answered %d: the backend negotiated %q on a min_protocol_version 2025-06-18 route\n%s",
		b.count()-n, r.Status, res.Result.ProtocolVersion, r.Body)
}

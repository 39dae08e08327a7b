package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// hide_denied against the Go SDK, with the backend as the oracle: a caller
// must not tell an item it may not use from one that does not exist, and
// what a denied item's handler would have done must not happen. bob
// (`allow *` plus denies naming real items) asks for each hidden item and
// a truly unknown one of the same kind, in the same session; the answers
// are compared whole (status, headers but Date, framing, the body with
// the unknown name in the hidden one's place), also for the requests the
// backend itself rejects. In both reply modes (SSE and JSON).

const hiddenSecret = "the-launch-code-0000"

// hiddenSite: alice may use everything, bob everything but the denied
// items. The denied template file:///private/keys/{id} and the instance
// file:///docs/notes/7 are resources whose handlers answer any id.
func hiddenSite(backendAddr string) string {
	return fmt.Sprintf(`http://localhost:%d {
	mcp_auth {
		token alice alice-secret-token admin
		token bob   bob-secret-token   reader
		role admin {
			allow *
		}
		role reader {
			allow *
			deny tools/call delete_db
			deny prompts/get secret_prompt "say \"hi\""
			deny resources/read file:///private/x file:///private/keys/* file:///docs/notes/7
			deny resources/subscribe file:///private/x
		}
		hide_denied
	}
	reverse_proxy %s
}
`, httpPort, backendAddr)
}

// newHiddenServer is a Go SDK server with the items of hiddenSite, a
// completion handler that answers as the SDK does for prompts (an unknown
// prompt or template is -32602), and a subscribe handler that takes any
// URI. Every handler that runs is counted (b.calls).
func newHiddenServer(b *backend) *mcp.Server {
	prompts := map[string]bool{"summarize": true, "secret_prompt": true, `say "hi"`: true}
	templates := map[string]bool{"file:///private/keys/{id}": true, "file:///docs/notes/{id}": true}
	s := mcp.NewServer(&mcp.Implementation{Name: "hidden-backend", Version: "1.0.0"}, &mcp.ServerOptions{
		CompletionHandler: func(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			ref := req.Params.Ref
			switch {
			case ref.Type == "ref/prompt" && prompts[ref.Name]:
				b.countTool("complete " + ref.Name)
				return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"one", "two"}}}, nil
			case ref.Type == "ref/resource" && templates[ref.URI]:
				b.countTool("complete " + ref.URI)
				return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"1", "2"}}}, nil
			case ref.Type == "ref/prompt":
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", ref.Name)}
			}
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown resource template %q", ref.URI)}
		},
		SubscribeHandler: func(_ context.Context, req *mcp.SubscribeRequest) error {
			b.countTool("subscribe " + req.Params.URI)
			return nil
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	for _, name := range []string{"echo", "delete_db"} {
		mcp.AddTool(s, &mcp.Tool{Name: name, Description: "Tool " + name + "."},
			func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
				b.countTool(name)
				return textResult(name + ": " + in.Text), nil, nil
			})
	}
	for name := range prompts {
		s.AddPrompt(&mcp.Prompt{Name: name}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			b.countTool("prompt " + name)
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "prompt " + name}}}}, nil
		})
	}
	for _, r := range []struct{ uri, text string }{
		{"file:///docs/readme.md", "public docs"},
		{"file:///private/x", "private: " + hiddenSecret},
	} {
		s.AddResource(&mcp.Resource{URI: r.uri, Name: r.uri, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				b.countTool("read " + r.uri)
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: r.text}}}, nil
			})
	}
	for _, tm := range []struct{ tmpl, text string }{
		{"file:///private/keys/{id}", "key %s: " + hiddenSecret},
		{"file:///docs/notes/{id}", "note %s"},
	} {
		prefix := strings.TrimSuffix(tm.tmpl, "{id}")
		s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: tm.tmpl, Name: tm.tmpl, MIMEType: "text/plain"},
			func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				b.countTool("read " + tm.tmpl)
				text := fmt.Sprintf(tm.text, strings.TrimPrefix(req.Params.URI, prefix))
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: text}}}, nil
			})
	}
	return s
}

// wireAnswer is an HTTP answer as the client sees it, framing included.
type wireAnswer struct {
	Status           int
	Proto            string
	TransferEncoding []string
	ContentLength    int64
	Header           http.Header
	Body             []byte
}

// send posts body (or sends method with no body) with the given headers;
// a header whose value is "" is not sent.
func sendRaw(t *testing.T, client *http.Client, method, body string, header map[string]string) wireAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, httpEndpoint(), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", method, err)
	}
	return wireAnswer{resp.StatusCode, resp.Proto, resp.TransferEncoding, resp.ContentLength, resp.Header, b}
}

var sseID = regexp.MustCompile(`(?m)^id: ?(.*)$`)

// observed renders what a client can observe of an answer, Date left out:
// the status line, the framing, the headers (sorted), the body. A
// Content-Length that is the length of the body shows as such (the body
// comparison covers it); SSE event ids show by their shape.
func (a wireAnswer) observed() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d\n", a.Proto, a.Status)
	switch {
	case len(a.TransferEncoding) > 0:
		fmt.Fprintf(&b, "Transfer-Encoding: %s\n", strings.Join(a.TransferEncoding, ", "))
	case a.ContentLength == int64(len(a.Body)):
		b.WriteString("Content-Length: <length of the body>\n")
	default:
		fmt.Fprintf(&b, "Content-Length: %d (body %d bytes)\n", a.ContentLength, len(a.Body))
	}
	keys := make([]string, 0, len(a.Header))
	for k := range a.Header {
		if k != "Date" && k != "Content-Length" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range a.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(sseID.ReplaceAllFunc(a.Body, func(m []byte) []byte {
		v := sseID.FindSubmatch(m)[1]
		return []byte("id: <" + regexp.MustCompile(`[0-9a-f]`).ReplaceAllString(string(v), "h") + ">")
	}))
	return b.String()
}

// jsonInner is s as it stands inside a JSON string literal.
func jsonInner(s string) string {
	q, _ := json.Marshal(s)
	return string(q[1 : len(q)-1])
}

// renamed is a with the unknown name put in the hidden one's place, as
// it stands in JSON and as the Go SDK quotes it in its messages (%q).
func (a wireAnswer) renamed(unknown, hidden string) wireAnswer {
	body := strings.ReplaceAll(string(a.Body), jsonInner(strconv.Quote(unknown)), jsonInner(strconv.Quote(hidden)))
	body = strings.ReplaceAll(body, jsonInner(unknown), jsonInner(hidden))
	a.ContentLength += int64(len(body) - len(a.Body))
	a.Body = []byte(body)
	return a
}

// rawSession opens a session with raw requests and returns its id.
func rawSession(t *testing.T, client *http.Client) string {
	t.Helper()
	r := sendRaw(t, client, http.MethodPost, initializeBody, nil)
	sid := r.Header.Get("Mcp-Session-Id")
	if r.Status != http.StatusOK || sid == "" {
		t.Fatalf("initialize: %d, session %q:\n%s", r.Status, sid, r.Body)
	}
	h := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}
	if n := sendRaw(t, client, http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, h); n.Status != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d %s", n.Status, n.Body)
	}
	return sid
}

type hiddenCase struct {
	what            string
	method          string
	params          func(name string) map[string]any
	hidden, unknown string
	// ran names the handler the hidden item would run (b.calls): it must
	// not run for bob.
	ran string
}

func hiddenCases() []hiddenCase {
	byName := func(extra map[string]any) func(string) map[string]any {
		return func(n string) map[string]any {
			p := map[string]any{"name": n}
			for k, v := range extra {
				p[k] = v
			}
			return p
		}
	}
	byURI := func(n string) map[string]any { return map[string]any{"uri": n} }
	complete := func(typ, key string) func(string) map[string]any {
		return func(n string) map[string]any {
			return map[string]any{"ref": map[string]any{"type": typ, key: n}, "argument": map[string]any{"name": "id", "value": ""}}
		}
	}
	return []hiddenCase{
		{"a tool", "tools/call", byName(map[string]any{"arguments": map[string]any{"text": "x"}}), "delete_db", "no_such_tool", "delete_db"},
		{"a prompt", "prompts/get", byName(nil), "secret_prompt", "no_such_prompt", "prompt secret_prompt"},
		// The SDK quotes the name in its message with %q.
		{"a prompt whose name has quotes", "prompts/get", byName(nil), `say "hi"`, `no "such"`, `prompt say "hi"`},
		{"a resource", "resources/read", byURI, "file:///private/x", "file:///docs/no_such_file", "read file:///private/x"},
		// Every instance of the template is denied: it must look like no
		// template, and its handler (which answers any id) must not run.
		{"an instance of a wholly denied template", "resources/read", byURI, "file:///private/keys/5", "file:///private/no_such/5", "read file:///private/keys/{id}"},
		// One instance of an allowed template is denied.
		{"a denied instance of a template", "resources/read", byURI, "file:///docs/notes/7", "file:///docs/no_such/7", "read file:///docs/notes/{id}"},
		{"a subscription", "resources/subscribe", byURI, "file:///private/x", "file:///docs/no_such_file", "subscribe file:///private/x"},
		{"a completion of a prompt", "completion/complete", complete("ref/prompt", "name"), "secret_prompt", "no_such_prompt", "complete secret_prompt"},
		{"a completion of a template", "completion/complete", complete("ref/resource", "uri"), "file:///private/keys/{id}", "file:///private/no_such/{id}", "complete file:///private/keys/{id}"},
	}
}

// TestHiddenAnsweredAsUnknownGoSDK: for every hidden item and an unknown
// one of the same kind, bob's two answers are the same but for the name,
// in his session and for the requests the backend rejects; alice gets
// every hidden item (it is real); the hidden item's handler never runs for
// bob, no hidden name and no secret reaches him or the backend.
func TestHiddenAnsweredAsUnknownGoSDK(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newCustomBackend(t, mode, newHiddenServer)
			startCaddy(t, hiddenSite(b.Addr))
			aliceHTTP, bobHTTP := newHTTPClient(t, aliceToken, nil), newHTTPClient(t, bobToken, nil)
			aliceSID, bobSID := rawSession(t, aliceHTTP), rawSession(t, bobHTTP)
			deadSID := rawSession(t, bobHTTP)
			if d := sendRaw(t, bobHTTP, http.MethodDelete, "", map[string]string{"Mcp-Session-Id": deadSID}); d.Status/100 != 2 {
				t.Fatalf("DELETE: %d %s", d.Status, d.Body)
			}

			body := func(c hiddenCase, name string) string {
				m, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": c.method, "params": c.params(name)})
				return string(m)
			}
			in := func(sid string, extra ...string) map[string]string {
				h := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}
				for i := 0; i+1 < len(extra); i += 2 {
					h[extra[i]] = extra[i+1]
				}
				return h
			}
			variants := []struct {
				name   string
				header map[string]string
			}{
				{"in the session", in(bobSID)},
				{"no session id", in("")},
				{"a deleted session", in(deadSID)},
				{"a bad protocol version", in(bobSID, "Mcp-Protocol-Version", "1999-01-01")},
				{"Accept: application/json only", in(bobSID, "Accept", "application/json")},
			}
			for _, c := range hiddenCases() {
				t.Run(c.what, func(t *testing.T) {
					// Real: alice gets the hidden item.
					before := b.calls(c.ran)
					ar := sendRaw(t, aliceHTTP, http.MethodPost, body(c, c.hidden), in(aliceSID))
					if m := rpcMessage(t, rawResponse{Status: ar.Status, Header: ar.Header, Body: ar.Body}); ar.Status != http.StatusOK || bytes.Contains(m, []byte(`"error"`)) {
						t.Fatalf("alice's %s %s: %d %s", c.method, c.hidden, ar.Status, m)
					}
					if b.calls(c.ran) != before+1 {
						t.Fatalf("alice's %s %s did not run %q: the item is not what the test thinks", c.method, c.hidden, c.ran)
					}

					before, mark := b.calls(c.ran), len(b.requests())
					for _, v := range variants {
						hidden := sendRaw(t, bobHTTP, http.MethodPost, body(c, c.hidden), v.header)
						unknown := sendRaw(t, bobHTTP, http.MethodPost, body(c, c.unknown), v.header)
						if got, want := hidden.observed(), unknown.renamed(c.unknown, c.hidden).observed(); got != want {
							t.Errorf("%s: bob's answer for the hidden %s\n%s\n--- differs from his answer for the unknown %s, renamed:\n%s", v.name, c.hidden, got, c.unknown, want)
						}
						if bytes.Contains(hidden.Body, []byte(hiddenSecret)) {
							t.Errorf("%s: bob's answer for the hidden %s holds the secret:\n%s", v.name, c.hidden, hidden.Body)
						}
					}
					if n := b.calls(c.ran) - before; n != 0 {
						t.Errorf("the handler of the hidden %s (%s) ran %d time(s) for bob", c.hidden, c.ran, n)
					}
					for _, r := range b.requests()[mark:] {
						if slices.Contains(r.RPC, c.method+" "+c.hidden) {
							t.Errorf("the backend got %s %s from bob", c.method, c.hidden)
						}
					}
				})
			}
			if n := b.calls("delete_db"); n != 1 {
				t.Errorf("delete_db ran %d times, want once (alice's)", n)
			}
			b.assertNoAuthorization(t)
		})
	}
}

// The Go SDK's cursor: base64url (padded) of the gob encoding of a
// pageToken naming the last item of the page (go-sdk mcp/server.go).
type pageToken struct{ LastUID string }

func goCursor(t *testing.T, name string) string {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(pageToken{LastUID: name}); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(buf.Bytes())
}

// cursorTools: 10 tools and 6 prompts, 3 a page; bob may not use the
// "secret-" ones. With the names sorted (the SDK pages in name order) the
// pages are [alpha beta gamma] [secret-1 secret-2 secret-3] [secret-4 x-ray
// yankee] [zulu], so bob sees a full page, an empty one, one with one
// item missing and a last one.
var (
	cursorTools   = []string{"alpha", "beta", "gamma", "secret-1", "secret-2", "secret-3", "secret-4", "x-ray", "yankee", "zulu"}
	cursorPrompts = []string{"p-alpha", "p-beta", "p-gamma", "p-delta", "p-epsilon", "p-zeta"}
)

const cursorPageSize = 3

func newCursorServer(b *backend) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "cursor-backend", Version: "1.0.0"}, &mcp.ServerOptions{PageSize: cursorPageSize})
	for _, name := range cursorTools {
		mcp.AddTool(s, &mcp.Tool{Name: name}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
			b.countTool(name)
			return textResult(name), nil, nil
		})
	}
	for _, name := range cursorPrompts {
		s.AddPrompt(&mcp.Prompt{Name: name}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: name}}}}, nil
		})
	}
	return s
}

func cursorSite(backendAddr string) string {
	return fmt.Sprintf(`http://localhost:%d {
	mcp_auth {
		token alice alice-secret-token admin
		token bob   bob-secret-token   reader
		role admin {
			allow *
		}
		role reader {
			allow *
			deny tools/call secret-*
		}
		hide_denied
	}
	reverse_proxy %s
}
`, httpPort, backendAddr)
}

// listPage is one list reply as the client got it.
type listPage struct {
	names  []string
	next   string
	answer wireAnswer
	msg    []byte
}

func listRaw(t *testing.T, client *http.Client, sid, method, cursor string) listPage {
	t.Helper()
	params := map[string]any{}
	if cursor != "" {
		params["cursor"] = cursor
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 5, "method": method, "params": params})
	a := sendRaw(t, client, http.MethodPost, string(body), map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"})
	p := listPage{answer: a, msg: rpcMessage(t, rawResponse{Status: a.Status, Header: a.Header, Body: a.Body})}
	var m struct {
		Result *struct {
			Tools      []struct{ Name string } `json:"tools"`
			Prompts    []struct{ Name string } `json:"prompts"`
			NextCursor string                  `json:"nextCursor"`
		} `json:"result"`
	}
	if err := json.Unmarshal(p.msg, &m); err != nil {
		t.Fatalf("%s: %v\n%s", method, err, p.msg)
	}
	if m.Result != nil {
		for _, x := range append(m.Result.Tools, m.Result.Prompts...) {
			p.names = append(p.names, x.Name)
		}
		p.next = m.Result.NextCursor
	}
	return p
}

func walk(t *testing.T, client *http.Client, sid, method string) []listPage {
	t.Helper()
	var pages []listPage
	cursor := ""
	for range 20 {
		p := listRaw(t, client, sid, method, cursor)
		if p.answer.Status != http.StatusOK || bytes.Contains(p.msg, []byte(`"error"`)) {
			t.Fatalf("%s page %d: %d %s", method, len(pages)+1, p.answer.Status, p.msg)
		}
		pages = append(pages, p)
		if p.next == "" {
			return pages
		}
		cursor = p.next
	}
	t.Fatalf("%s did not end after 20 pages", method)
	return nil
}

// TestHiddenCursorsGoSDK: a paginated tools list (the Go SDK, 3 a page)
// filtered for bob. His pages, the one filtered to nothing included, name
// no hidden tool in any byte, and their cursors are sealed (no cursor of
// the SDK's format, which names the page's last tool, reaches him).
// Crafted cursors (the SDK's format naming a hidden tool, an allowed one,
// an unknown one; garbage) all get the backend's invalid-cursor answer. A
// sealed cursor works for its caller, in a new session too, and only for
// the list it came from. What a filtered page still tells (its item count
// against the page size, the length of the sealed cursor) is logged: the
// residual leak docs/security.md documents.
func TestHiddenCursorsGoSDK(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newCustomBackend(t, mode, newCursorServer)
			startCaddy(t, cursorSite(b.Addr))
			aliceHTTP, bobHTTP := newHTTPClient(t, aliceToken, nil), newHTTPClient(t, bobToken, nil)
			aliceSID, bobSID := rawSession(t, aliceHTTP), rawSession(t, bobHTTP)
			hidden := func(n string) bool { return strings.HasPrefix(n, "secret-") }

			all := walk(t, aliceHTTP, aliceSID, "tools/list")
			mine := walk(t, bobHTTP, bobSID, "tools/list")
			if want := (len(cursorTools) + cursorPageSize - 1) / cursorPageSize; len(all) != want {
				t.Fatalf("alice walked %d pages, want %d: the backend does not paginate as configured", len(all), want)
			}
			if len(mine) != len(all) {
				t.Fatalf("bob walked %d pages, alice %d", len(mine), len(all))
			}
			emptyPages := 0
			for i := range all {
				want := slices.DeleteFunc(slices.Clone(all[i].names), hidden)
				if !slices.Equal(mine[i].names, want) {
					t.Errorf("page %d: bob sees %v, want %v (alice sees %v)", i+1, mine[i].names, want, all[i].names)
				}
				if len(mine[i].names) == 0 {
					emptyPages++
				}
				for _, n := range cursorTools {
					if hidden(n) && bytes.Contains(mine[i].answer.Body, []byte(n)) {
						t.Errorf("page %d: bob's answer names the hidden tool %s:\n%s", i+1, n, mine[i].answer.Body)
					}
				}
				if c := all[i].next; c != "" && bytes.Contains(mine[i].answer.Body, []byte(goCursor(t, all[i].names[len(all[i].names)-1]))) {
					t.Errorf("page %d: bob's answer holds the backend's cursor", i+1)
				}
				if c := mine[i].next; c != "" {
					if !strings.HasPrefix(c, "mcpc.") {
						t.Errorf("page %d: bob's cursor %q is not sealed", i+1, c)
					}
					if raw, err := base64.URLEncoding.DecodeString(c); err == nil {
						t.Errorf("page %d: bob's cursor decodes as the SDK's: %q", i+1, raw)
					}
				}
			}
			if emptyPages == 0 {
				t.Fatal("no page was filtered to nothing: the test does not cover one")
			}

			// The residual leak: a page's count against the page size, and
			// the sealed cursor's length, which follows the length of the
			// backend's cursor, hence of the page's last name (hidden or not).
			for i, p := range mine {
				last := all[i].names[len(all[i].names)-1]
				t.Logf("page %d: bob sees %d of %d (%d hidden); last item %q (%d bytes); backend cursor %d chars, sealed %d chars",
					i+1, len(p.names), len(all[i].names), len(all[i].names)-len(p.names), last, len(last), len(goCursor(t, last)), len(p.next))
			}

			invalid := listRaw(t, bobHTTP, bobSID, "tools/list", "bm90IGEgY3Vyc29y")
			if !bytes.Contains(invalid.msg, []byte(`-32602`)) {
				t.Fatalf("the backend's invalid-cursor answer: %s", invalid.msg)
			}
			want := invalid.answer.observed()
			for _, name := range append(slices.Clone(cursorTools), "no_such_tool", "") {
				for _, who := range []struct {
					name   string
					client *http.Client
					sid    string
				}{{"bob", bobHTTP, bobSID}, {"alice", aliceHTTP, aliceSID}} {
					got := listRaw(t, who.client, who.sid, "tools/list", goCursor(t, name))
					if got.answer.observed() != want {
						t.Errorf("%s's crafted cursor naming %q: answered\n%s\n--- not as an invalid cursor:\n%s", who.name, name, got.answer.observed(), want)
					}
				}
			}

			// Bound to the caller and the list, not to the session.
			second := mine[0].next
			again := listRaw(t, bobHTTP, rawSession(t, bobHTTP), "tools/list", second)
			if !slices.Equal(again.names, mine[1].names) {
				t.Errorf("bob's own cursor in a new session: %v, want %v", again.names, mine[1].names)
			}
			if got := listRaw(t, aliceHTTP, aliceSID, "tools/list", second); got.answer.observed() != listRaw(t, aliceHTTP, aliceSID, "tools/list", "bm90IGEgY3Vyc29y").answer.observed() {
				t.Errorf("bob's cursor used by alice: answered\n%s\n--- not as an invalid cursor", got.answer.observed())
			}
			prompts := walk(t, bobHTTP, bobSID, "prompts/list")
			if len(prompts) < 2 {
				t.Fatalf("prompts/list is not paginated: %d page(s)", len(prompts))
			}
			invalidPrompts := listRaw(t, bobHTTP, bobSID, "prompts/list", "bm90IGEgY3Vyc29y")
			if !bytes.Contains(invalidPrompts.msg, []byte(`-32602`)) {
				t.Fatalf("the backend's invalid-cursor answer for prompts/list: %s", invalidPrompts.msg)
			}
			if got := listRaw(t, bobHTTP, bobSID, "prompts/list", second); got.answer.observed() != invalidPrompts.answer.observed() {
				t.Errorf("bob's tools/list cursor in prompts/list: answered\n%s\n--- not as an invalid cursor", got.answer.observed())
			}
			if got := listRaw(t, bobHTTP, bobSID, "tools/list", prompts[0].next); got.answer.observed() != want {
				t.Errorf("bob's prompts/list cursor in tools/list: answered\n%s\n--- not as an invalid cursor", got.answer.observed())
			}
			for _, n := range cursorTools {
				if hidden(n) && b.calls(n) != 0 {
					t.Errorf("%s ran", n)
				}
			}
		})
	}
}

// TestHiddenReplayGoSDK: a Go SDK server with an event store keeps the
// events of every POST stream; a GET with Last-Event-ID set to a stream's
// priming event replays its answer. The replay of the answer for a hidden
// tool must be the replay for an unknown one, renamed.
func TestHiddenReplayGoSDK(t *testing.T) {
	b := &backend{toolCalls: map[string]int{}}
	srv := newHiddenServer(b)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{EventStore: mcp.NewMemoryEventStore(nil)})
	ts := httptest.NewServer(b.record(h))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	startCaddy(t, hiddenSite(strings.TrimPrefix(ts.URL, "http://")))
	bobHTTP := newHTTPClient(t, bobToken, nil)
	sid := rawSession(t, bobHTTP)
	hdr := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}

	replay := map[string]string{}
	for _, name := range []string{"delete_db", "no_such_tool"} {
		a := sendRaw(t, bobHTTP, http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"`+name+`","arguments":{}}}`, hdr)
		ids := sseID.FindAllSubmatch(a.Body, -1)
		if len(ids) == 0 {
			t.Fatalf("tools/call %s: no event ids in the answer (is the event store on?):\n%s", name, a.Body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, httpEndpoint(), nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		req.Header.Set("Last-Event-ID", string(ids[0][1]))
		resp, err := bobHTTP.Do(req)
		if err != nil {
			cancel()
			t.Fatalf("GET with Last-Event-ID: %v", err)
		}
		var got []byte
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(`"id":7`)) {
			n, err := resp.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		cancel()
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(`"id":7`)) {
			t.Fatalf("the replay after %s: %d\n%s", ids[0][1], resp.StatusCode, got)
		}
		replay[name] = string(sseID.ReplaceAll(got, []byte("id: <id>")))
	}
	if want := strings.ReplaceAll(replay["no_such_tool"], "no_such_tool", "delete_db"); replay["delete_db"] != want {
		t.Errorf("the replay of the answer for the hidden delete_db\n%s\n--- differs from the replay for the unknown no_such_tool, renamed:\n%s", replay["delete_db"], want)
	}
	if n := b.calls("delete_db"); n != 0 {
		t.Errorf("delete_db ran %d time(s)", n)
	}
}

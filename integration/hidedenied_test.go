package integration

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// rpcMessage returns the JSON-RPC response in an answer: the body of an
// application/json answer, or the data of the one event of an event stream
// that carries a response (an object with an id and a result or error).
func rpcMessage(t *testing.T, r rawResponse) []byte {
	t.Helper()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		return bytes.TrimSpace(r.Body)
	case "text/event-stream":
		var found []byte
		for _, ev := range strings.Split(strings.ReplaceAll(string(r.Body), "\r\n", "\n"), "\n\n") {
			var data []string
			for _, ln := range strings.Split(ev, "\n") {
				if v, ok := strings.CutPrefix(ln, "data:"); ok {
					data = append(data, strings.TrimPrefix(v, " "))
				}
			}
			if len(data) == 0 {
				continue
			}
			msg := []byte(strings.Join(data, "\n"))
			var probe struct {
				ID     json.RawMessage `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  json.RawMessage `json:"error"`
			}
			if json.Unmarshal(msg, &probe) == nil && probe.ID != nil && (probe.Result != nil || probe.Error != nil) {
				if found != nil {
					t.Fatalf("two responses in one event stream:\n%s", r.Body)
				}
				found = msg
			}
		}
		if found == nil {
			t.Fatalf("no JSON-RPC response in the event stream:\n%s", r.Body)
		}
		return found
	}
	t.Fatalf("answer %d with Content-Type %q:\n%s", r.Status, r.Header.Get("Content-Type"), r.Body)
	return nil
}

// sealedName is the name a hidden item reaches the backend under: a token
// sealed for the caller (a URI's in the x-mcpauth: scheme).
var sealedName = regexp.MustCompile(`^(x-mcpauth:)?mcpauth-h\.[A-Za-z0-9_-]{40,}$`)

// TestHideDeniedMatchesGoSDKUnknownItem: with hide_denied, the answer to a
// tool, prompt or resource the reader may not use is byte for byte, on the
// wire, the answer the same go-sdk server gives for one that does not
// exist (asked by the admin, who may ask for anything), up to the name;
// the SDK client surfaces the same error. The denied call reaches the
// backend once, under a sealed token in place of its name (of the whole
// URI: it can match no resource or template), never under its own, and
// the denied tool does not run. In both reply modes.
// (TestHiddenAnsweredAsUnknownGoSDK compares whole answers, headers and
// framing included.)
func TestHideDeniedMatchesGoSDKUnknownItem(t *testing.T) {
	for _, mode := range statefulModes {
		t.Run(mode.name, func(t *testing.T) {
			b := newBackend(t, mode)
			startCaddy(t, plainSite(b.Addr, "hide_denied"))
			alice := mustConnect(t, connectOpts{token: aliceToken, noStandaloneSSE: true})
			bob := mustConnect(t, connectOpts{token: bobToken, noStandaloneSSE: true})
			aliceRaw, bobRaw := newHTTPClient(t, aliceToken, nil), newHTTPClient(t, bobToken, nil)

			cases := []struct {
				method, param      string
				hidden, unknown    string
				sdkHidden, sdkUnkn func() error
			}{
				{method: "tools/call", param: "name", hidden: "delete_db", unknown: "no_such_tool"},
				{method: "prompts/get", param: "name", hidden: "secret_prompt", unknown: "no_such_prompt"},
				{method: "resources/read", param: "uri", hidden: "file:///private/x", unknown: "file:///docs/no_such_file"},
			}
			for _, c := range cases {
				call := func(client *http.Client, s *session, target string) (rawResponse, []byte) {
					params := map[string]any{c.param: target}
					if c.method == "tools/call" {
						params["arguments"] = map[string]any{}
					}
					body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 42, "method": c.method, "params": params})
					r := do(t, client, http.MethodPost, httpEndpoint(), string(body), map[string]string{
						"Mcp-Session-Id":       s.ID(),
						"Mcp-Protocol-Version": s.InitializeResult().ProtocolVersion,
					})
					return r, rpcMessage(t, r)
				}
				before := len(b.requests())
				hr, hidden := call(bobRaw, bob, c.hidden)
				// Forwarded once, under a sealed token in place of the
				// hidden name.
				var got []string
				for _, r := range b.requests()[before:] {
					got = append(got, r.RPC...)
				}
				stem := c.method + " "
				if len(got) != 1 || !strings.HasPrefix(got[0], stem) || !sealedName.MatchString(strings.TrimPrefix(got[0], stem)) ||
					strings.Contains(got[0], c.hidden) {
					t.Errorf("%s %s (hidden): the backend got %q, want one %s<sealed token>", c.method, c.hidden, got, stem)
				}
				ur, unknown := call(aliceRaw, alice, c.unknown)
				if !b.sawRPC(c.method + " " + c.unknown) {
					t.Fatalf("%s %s (unknown) did not reach the backend: the reference answer is not the server's", c.method, c.unknown)
				}
				if hr.Status != ur.Status {
					t.Errorf("%s: hidden answered HTTP %d, unknown %d", c.method, hr.Status, ur.Status)
				}
				// The server's answer for the unknown item, renamed, is the
				// gateway's answer for the hidden one.
				want := bytes.ReplaceAll(unknown, []byte(c.unknown), []byte(c.hidden))
				if !bytes.Equal(hidden, want) {
					t.Errorf("%s: hidden item answered\n  %s\nthe go-sdk server answers an unknown one (renamed)\n  %s", c.method, hidden, want)
				}
				var e rpcErr
				if err := json.Unmarshal(hidden, &e); err != nil || e.Error == nil || e.Error.Code == codePermissionDenied {
					t.Errorf("%s: hidden answer is not an unknown-item error: %s", c.method, hidden)
				}
				hct, uct := hr.Header.Get("Content-Type"), ur.Header.Get("Content-Type")
				if hct != uct {
					// The framing must not tell a hidden item from an
					// unknown one either.
					t.Errorf("%s: Content-Type of the hidden answer %q, of the server's unknown-item answer %q", c.method, hct, uct)
				}
			}

			// Through the SDK client: the same error text, the session goes on.
			ctx := ctxT(t)
			sdkErr := func(s *session, method, target string) string {
				var err error
				switch method {
				case "tools/call":
					_, err = s.CallTool(ctx, &mcp.CallToolParams{Name: target, Arguments: map[string]any{}})
				case "prompts/get":
					_, err = s.GetPrompt(ctx, &mcp.GetPromptParams{Name: target})
				case "resources/read":
					_, err = s.ReadResource(ctx, &mcp.ReadResourceParams{URI: target})
				}
				if err == nil {
					t.Fatalf("%s %s succeeded", method, target)
				}
				return err.Error()
			}
			for _, c := range cases {
				got := sdkErr(bob, c.method, c.hidden)
				want := strings.ReplaceAll(sdkErr(alice, c.method, c.unknown), c.unknown, c.hidden)
				if got != want {
					t.Errorf("%s: the SDK reports %q for the hidden item, %q for an unknown one", c.method, got, want)
				}
			}
			if got := bob.callText(t, "echo", map[string]any{"text": "still"}); got != "echo: still" {
				t.Errorf("echo after hidden denials = %q", got)
			}
			for _, c := range cases {
				if b.sawRPC(c.method + " " + c.hidden) {
					t.Errorf("%s %s reached the backend", c.method, c.hidden)
				}
			}
			if n := b.calls("delete_db"); n != 0 {
				t.Errorf("the hidden delete_db ran %d time(s)", n)
			}
			b.assertNoAuthorization(t)
		})
	}
}

// TestForeignOriginRefused: with allowed_origins, a request whose Origin is
// not listed gets 403 forbidden_origin (with a token or without, on POST,
// GET, DELETE and a CORS preflight) and nothing reaches the backend; a
// listed Origin and no Origin both pass.
func TestForeignOriginRefused(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr, "allowed_origins http://app.example.com http://localhost:6274"))
	alice := newHTTPClient(t, aliceToken, nil)
	anon := newHTTPClient(t, "", nil)

	for _, origin := range []string{"http://evil.example", "null", "http://app.example.com.evil.example", "https://app.example.com"} {
		for _, c := range []struct {
			client       *http.Client
			method, body string
			header       map[string]string
		}{
			{alice, http.MethodPost, initializeBody, nil},
			{anon, http.MethodPost, initializeBody, nil},
			{alice, http.MethodGet, "", map[string]string{"Accept": "text/event-stream", "Mcp-Session-Id": "x"}},
			{alice, http.MethodDelete, "", map[string]string{"Mcp-Session-Id": "x"}},
			{anon, http.MethodOptions, "", map[string]string{"Access-Control-Request-Method": "POST"}},
		} {
			h := map[string]string{"Origin": origin}
			for k, v := range c.header {
				h[k] = v
			}
			r := do(t, c.client, c.method, httpEndpoint(), c.body, h)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s with Origin %q: status %d, want 403; body %s", c.method, origin, r.Status, r.Body)
				continue
			}
			var e authError
			jsonBody(t, r, &e)
			if e.Error != "forbidden_origin" {
				t.Errorf("%s with Origin %q: error %q, want forbidden_origin", c.method, origin, e.Error)
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s with Origin %q: Access-Control-Allow-Origin %q on a refusal to a foreign origin", c.method, origin, got)
			}
		}
	}
	if n := b.count(); n != 0 {
		t.Fatalf("%d request(s) from foreign origins reached the backend: %+v", n, b.requests())
	}

	withOrigin := func(o string) func(http.RoundTripper) http.RoundTripper {
		return spoof(map[string][]string{"Origin": {o}})
	}
	for _, o := range []connectOpts{
		{token: aliceToken, wrap: withOrigin("http://app.example.com")},
		{token: aliceToken, wrap: withOrigin("http://localhost:6274")},
		{token: aliceToken},
	} {
		s := mustConnect(t, o)
		if got := s.callText(t, "echo", map[string]any{"text": "o"}); got != "echo: o" {
			t.Errorf("echo = %q", got)
		}
	}
	b.assertNoAuthorization(t)
}

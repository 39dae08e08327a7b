package integration

import (
	"errors"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestDeniedCodeReadableByGoSDK: the denial code must be one the official
// Go SDK gives no meaning of its own. go-sdk v1.8.0 defines -32001, -32003,
// -32004 and -32005 internally (-32003 is ErrClientClosing, matched by code
// alone), so an earlier choice of -32003 made CallTool report a denial as
// mcp.ErrConnectionClosed. The denial must reach the client as a
// *jsonrpc.Error with mcp_auth's code, and the session must go on.
func TestDeniedCodeReadableByGoSDK(t *testing.T) {
	b := newBackend(t, modeSSE)
	startCaddy(t, plainSite(b.Addr))
	s := mustConnect(t, connectOpts{token: bobToken})

	_, err := s.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
	s.assertDenied(t, err, "tools/call", "delete_db")
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) || werr.Code != codePermissionDenied {
		t.Fatalf("the Go SDK does not see JSON-RPC error %d: %T %v", codePermissionDenied, err, err)
	}
	if errors.Is(err, mcp.ErrConnectionClosed) {
		t.Fatalf("the Go SDK reads the denial as a closed connection: %v", err)
	}
	if got := s.callText(t, "echo", map[string]any{"text": "after"}); got != "echo: after" {
		t.Errorf("echo after the denial = %q", got)
	}
	if b.calls("delete_db") != 0 {
		t.Error("delete_db ran")
	}
}

// TestServerDiscoverIsLifecycle: revision 2026-07-28 (SEP-2575) replaces
// the initialize handshake with server/discover, which go-sdk v1.8.0
// clients send first on every Connect. Like initialize, every
// authenticated caller may send it, so a reader negotiates the same
// protocol as an admin.
func TestServerDiscoverIsLifecycle(t *testing.T) {
	b := newBackend(t, backendMode{name: "stateless", stateless: true})
	startCaddy(t, plainSite(b.Addr))

	for _, who := range []struct{ name, token string }{{"alice", aliceToken}, {"bob", bobToken}} {
		s := mustConnect(t, connectOpts{token: who.token})
		if v := s.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Errorf("%s negotiated %q, want 2026-07-28", who.name, v)
		}
		if got := s.callText(t, "echo", map[string]any{"text": who.name}); got != "echo: "+who.name {
			t.Errorf("%s: echo = %q", who.name, got)
		}
	}
	if !b.sawRPC("server/discover") {
		t.Error("server/discover never reached the backend")
	}
}

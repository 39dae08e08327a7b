package mcpauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// This file holds what the backend and the client get to see beyond the
// decision itself: the identity headers, session binding, origins and
// the hide_denied answers.

// HideDenied answers a call to an item the caller may not see as the
// backend answers an unknown item.
type HideDenied struct {
	// The answer shape: "go" (the official Go SDK: JSON-RPC error -32602
	// `unknown tool "x"`, `unknown prompt "x"`, "Resource not found") or
	// "typescript" (the TypeScript McpServer: a tools/call result with
	// isError and the text `MCP error -32602: Tool x not found`; JSON-RPC
	// errors `MCP error -32602: Prompt x not found` and `… Resource x not
	// found`). Default: go.
	Style string `json:"style,omitempty"`

	// Message templates overriding the style's, for tools, prompts and
	// resources. {name} is replaced by the tool or prompt name or the
	// resource URI, {quoted} by the same in double quotes.
	ToolMessage     string `json:"tool_message,omitempty"`
	PromptMessage   string `json:"prompt_message,omitempty"`
	ResourceMessage string `json:"resource_message,omitempty"`
}

const (
	styleGo         = "go"
	styleTypeScript = "typescript"
)

func (h *HideDenied) templates() (tool, prompt, resource string) {
	if h.Style == styleTypeScript {
		tool, prompt, resource = "MCP error -32602: Tool {name} not found",
			"MCP error -32602: Prompt {name} not found", "MCP error -32602: Resource {name} not found"
	} else {
		tool, prompt, resource = "unknown tool {quoted}", "unknown prompt {quoted}", "Resource not found"
	}
	if h.ToolMessage != "" {
		tool = h.ToolMessage
	}
	if h.PromptMessage != "" {
		prompt = h.PromptMessage
	}
	if h.ResourceMessage != "" {
		resource = h.ResourceMessage
	}
	return
}

// replyShape is how the backend last framed a 200 reply to a POST: a
// hidden item is answered in the same framing, so that the Content-Type of
// a refusal does not tell it from the backend's unknown-item answer.
type replyShape struct {
	sse          bool
	cacheControl string
}

// hiddenRefusal is a hide_denied answer framed as the backend frames its
// replies: an SSE event ("event: message", as the official SDKs write
// it) when the backend answers POSTs with event streams and the client
// accepts one, else application/json.
func (m *MCPAuth) hiddenRefusal(r *http.Request, body []byte) *refusal {
	rf := &refusal{status: http.StatusOK, body: body}
	if shape := m.state.lastReply.Load(); shape != nil && shape.sse && strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		rf.sse, rf.cacheControl = true, shape.cacheControl
	}
	return rf
}

func fillTemplate(t, name string) string {
	return strings.NewReplacer("{name}", name, "{quoted}", wire.Quote(name)).Replace(t)
}

// unknownAnswer renders the answer to a hidden item, or ok=false when the
// action names no item (then deny_with applies).
func (h *HideDenied) unknownAnswer(id []byte, a Action) ([]byte, bool) {
	if !a.HasTarget {
		return nil, false
	}
	tool, prompt, resource := h.templates()
	switch a.Method {
	case "tools/call":
		msg := fillTemplate(tool, a.Target)
		if h.Style == styleTypeScript {
			if id == nil {
				id = []byte("null")
			}
			b := []byte(`{"jsonrpc":"2.0","id":`)
			b = append(b, id...)
			b = append(b, `,"result":{"content":[{"type":"text","text":`...)
			b = wire.AppendQuote(b, msg)
			b = append(b, `}],"isError":true}}`...)
			return b, true
		}
		return rpcErrorBody(id, wire.CodeInvalidParams, msg), true
	case "prompts/get":
		return rpcErrorBody(id, wire.CodeInvalidParams, fillTemplate(prompt, a.Target)), true
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		b := rpcErrorBody(id, wire.CodeInvalidParams, fillTemplate(resource, a.Target))
		if h.Style != styleTypeScript && h.ResourceMessage == "" {
			// The Go SDK adds the URI as error data.
			b = append(b[:len(b)-2], `,"data":{"uri":`...)
			b = wire.AppendQuote(b, a.Target)
			b = append(b, "}}}"...)
		}
		return b, true
	}
	return nil, false
}

// provisionExposure prepares the settings of this file (checked by
// validate).
func (m *MCPAuth) provisionExposure(ctx caddy.Context) error {
	m.origins = nil
	for _, o := range m.AllowedOrigins {
		if m.origins == nil {
			m.origins = map[string]bool{}
		}
		m.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	if m.Audit {
		m.audit = ctx.Logger().Named("audit")
	}
	if m.DisableSessionBinding {
		return nil
	}
	m.sessions = &sessionKeys{storage: storageOf(ctx)}
	if m.sessions.storage == nil && m.SessionKey == "" {
		// No storage (a bare context, as in unit tests): a key for this
		// config's lifetime only.
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return err
		}
		m.sessions.key = k
	}
	if m.SessionKey != "" {
		secret, err := caddy.NewReplacer().ReplaceOrErr(m.SessionKey, true, true)
		if err != nil {
			return fmt.Errorf("session_key %s: %v", placeholderOnly(m.SessionKey), err)
		}
		if len(secret) < 32 {
			return fmt.Errorf("session_key: must be at least 32 characters (try `caddy mcp-auth new-token`)")
		}
		k := sha256.Sum256([]byte("mcp_auth session key\x00" + secret))
		m.sessions.key = k[:]
	}
	return nil
}

// storageOf returns the config's storage, or nil for a context that has
// none.
func storageOf(ctx caddy.Context) (s certmagic.Storage) {
	defer func() {
		if recover() != nil {
			s = nil
		}
	}()
	return ctx.Storage()
}

// placeholderOnly names a secret's placeholder for an error message, or
// hides a literal secret.
func placeholderOnly(s string) string {
	if isRuntimeSecret(s) {
		return s
	}
	return "(literal)"
}

// headerKey folds a header name for comparisons: case-insensitive, and
// with '_' and '.' read as '-', as CGI- and PHP-style backends do.
func headerKey(s string) string {
	return strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(s))
}

// originAllowed applies allowed_origins to a request.
func (m *MCPAuth) originAllowed(r *http.Request) bool {
	if m.origins == nil {
		return true
	}
	o := r.Header.Values("Origin")
	if len(o) == 0 {
		return true
	}
	return len(o) == 1 && m.origins[strings.ToLower(o[0])]
}

// deleteIdentityHeaders removes every client-supplied copy of the
// identity headers, whatever its case or spelling ('_' or '.' for '-').
func (m *MCPAuth) deleteIdentityHeaders(r *http.Request) {
	if m.IdentityHeader == "" && m.RolesHeader == "" {
		return
	}
	idKey, rolesKey := headerKey(m.IdentityHeader), headerKey(m.RolesHeader)
	for k := range r.Header {
		if hk := headerKey(k); (idKey != "" && hk == idKey) || (rolesKey != "" && hk == rolesKey) {
			delete(r.Header, k)
		}
	}
}

// setIdentityHeaders sets the identity headers from the authenticated
// principal, after removing every client-supplied copy.
func (m *MCPAuth) setIdentityHeaders(r *http.Request, p *principal) {
	if m.IdentityHeader == "" && m.RolesHeader == "" {
		return
	}
	m.deleteIdentityHeaders(r)
	if m.IdentityHeader != "" {
		r.Header.Set(m.IdentityHeader, p.id)
	}
	if m.RolesHeader != "" {
		r.Header.Set(m.RolesHeader, p.rolesStr)
	}
}

// decodeHeaderValue reads an Mcp-Method / Mcp-Name value, which may be
// wrapped as =?base64?<base64>?=.
func decodeHeaderValue(v string) (string, bool) {
	if rest, ok := strings.CutPrefix(v, "=?base64?"); ok {
		enc, ok := strings.CutSuffix(rest, "?=")
		if !ok {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
	return v, true
}

// checkMCPHeaders compares the Mcp-Method and Mcp-Name request headers
// (revision 2026-07-28), when present, with the body. Decisions are
// always taken from the body; a header that disagrees is a bad request.
func checkMCPHeaders(r *http.Request, batch bool, msgs []wire.Message) string {
	mv, nv := r.Header.Values("Mcp-Method"), r.Header.Values("Mcp-Name")
	if len(mv) == 0 && len(nv) == 0 {
		return ""
	}
	if len(mv) > 1 || len(nv) > 1 {
		return "Mcp-Method and Mcp-Name may appear once"
	}
	if batch {
		return "Mcp-Method and Mcp-Name name a single message, not a batch"
	}
	a := msgs[0].Action
	name, hasName := a.Target, a.HasTarget
	if wire.ClassOf(a.Method) == wire.ClassTask {
		// Under 2026-07-28 a task method's Mcp-Name is its taskId.
		name, hasName = msgs[0].TaskID.Value, msgs[0].TaskID.Present()
	}
	if len(mv) == 1 {
		m, ok := decodeHeaderValue(mv[0])
		if !ok || m != a.Method {
			return "Mcp-Method does not match the method in the body"
		}
	}
	if len(nv) == 1 {
		n, ok := decodeHeaderValue(nv[0])
		if !ok || !hasName || n != name {
			return "Mcp-Name does not match the name or URI in the body"
		}
	}
	return ""
}

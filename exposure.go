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
// decision itself: the identity headers, the binding keys, origins and
// hide_denied.

// HideDenied makes a call to an item the caller may not use
// indistinguishable from a call to an item that does not exist. Rather
// than answering itself, the module forwards the denied call to the
// backend as a call for a name that cannot exist — a token sealed for the
// caller (a fresh nonce each time, so unpredictable and unrelated to any
// real name; a resource URI becomes one in the x-mcpauth: scheme, which
// matches no resource or template) — and, wherever the backend echoes
// that token (its answer, a later notification, a replayed event), puts
// the requested name back. The backend so supplies its own status, headers,
// framing, id handling and timing, including its own rejections of bad
// sessions and versions. The call is still audited and counted as denied.
// An OAuth caller whom a scope would grant the item gets the step-up 403
// instead (that tells it the item exists, by design).
type HideDenied struct {
	// Deprecated: the backend answers itself now; style and the message
	// templates are accepted and ignored.
	Style           string `json:"style,omitempty"`
	ToolMessage     string `json:"tool_message,omitempty"`
	PromptMessage   string `json:"prompt_message,omitempty"`
	ResourceMessage string `json:"resource_message,omitempty"`
}

const (
	styleGo         = "go"
	styleTypeScript = "typescript"
)

// hideable reports whether a denied message names an item hide_denied can
// stand in for.
func hideable(msg *wire.Message) bool {
	if msg.Kind != wire.KindRequest || !msg.Action.HasTarget || msg.TargetAt.Len() == 0 {
		return false
	}
	mi, ok := wire.Lookup(msg.Action.Method)
	return ok && mi.Target != wire.NoTarget
}

// hide rewrites a denied item's name to a sealed token (see HideDenied).
func (ex *exchange) hide(msg *wire.Message) {
	name := ex.keys.sealHidden(ex.p.id, msg.Action.Target)
	if mi, _ := wire.Lookup(msg.Action.Method); mi.Target == wire.TargetURI || msg.Action.Ref == "ref/resource" {
		name = wire.HiddenScheme + name
	}
	ex.edits = append(ex.edits, wire.ReplaceString(msg.TargetAt, name))
	ex.mcpName = name
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
	if h := m.HideDenied; h != nil && (h.Style != "" || h.ToolMessage != "" || h.PromptMessage != "" || h.ResourceMessage != "") {
		m.logger.Warn("hide_denied: style and message templates are no longer used: the backend answers a hidden item itself")
	}
	owners, err := sharedTaskOwners()
	if err != nil {
		return err
	}
	m.owners = owners
	m.sessions = &sessionKeys{storage: storageOf(ctx), scope: m.BindingScope}
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
		b, err := base64.StdEncoding.Strict().DecodeString(enc)
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

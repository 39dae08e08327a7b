package mcpauth

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// The audit log (opt-in): one structured entry per decision on the logger
// http.handlers.mcp_auth.audit, with who, what, the decision and the rule
// that decided. Never a secret, a token or a digest.

func (m *MCPAuth) auditFields(r *http.Request, p *principal) []zap.Field {
	f := make([]zap.Field, 0, 10)
	if p != nil {
		f = append(f, zap.String("principal", p.id), zap.String("user", p.name), zap.String("roles", p.rolesStr))
	}
	f = append(f, zap.String("http_method", r.Method), zap.String("remote_ip", remoteHost(r)))
	if sid := r.Header.Get("Mcp-Session-Id"); sid != "" {
		f = append(f, zap.String("session", sid))
	}
	// {http.request.uuid} is Caddy's request id; it needs the request's vars.
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok && r.Context().Value(caddyhttp.VarsCtxKey) != nil {
		if id, ok := repl.GetString("http.request.uuid"); ok && id != "" {
			f = append(f, zap.String("request_id", id))
		}
	}
	return f
}

// auditHTTP records an allowed GET, DELETE or OPTIONS.
func (m *MCPAuth) auditHTTP(r *http.Request, p *principal) {
	if m.audit == nil {
		return
	}
	m.audit.Info("decision", append(m.auditFields(r, p), zap.String("decision", "allow"), zap.String("rule", "lifecycle"))...)
}

// auditRefusal records a refusal before any rule was consulted (no or
// unknown credential, bad origin, malformed body, foreign session).
func (m *MCPAuth) auditRefusal(r *http.Request, p *principal, reason string) {
	if m.audit == nil {
		return
	}
	m.audit.Info("decision", append(m.auditFields(r, p), zap.String("decision", "deny"), zap.String("rule", reason))...)
}

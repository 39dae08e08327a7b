// Package mcpauth is a Caddy HTTP handler that authenticates callers of an
// MCP (Model Context Protocol) server and authorizes each JSON-RPC action
// (method and target: tool, resource, prompt) against roles, before the
// request reaches the backend.
//
// The request path is a pipeline: admit (method, framing, origin,
// credential, throttle, session) → judge (the body read, classified and
// decided) → answer, the one writer of every refusal, or forward. The
// protocol core (JSON-RPC, URIs, reply rewriting, SSE) is the package
// wire, which imports nothing of Caddy.
package mcpauth

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

func init() {
	caddy.RegisterModule(MCPAuth{})
}

// Defaults.
const (
	defaultHeader  = "Authorization"
	defaultRealm   = "mcp"
	defaultMaxBody = 1 << 20
)

// MCPAuth guards an MCP server (Streamable HTTP transport). Every request
// must carry a known credential; every JSON-RPC request in a POST body is
// judged against the caller's roles before anything is passed on.
type MCPAuth struct {
	// Static bearer tokens, each with a public name and its roles.
	Tokens []Token `json:"tokens,omitempty"`

	// Files of further tokens, one "<name> <secret> <role...>" a line, with
	// '#' comments and blank lines allowed. Read when the config is loaded.
	TokenFiles []string `json:"token_files,omitempty"`

	// Roles by name: what a caller holding the role may do.
	Roles map[string]Role `json:"roles,omitempty"`

	// Methods the module does not know (an extension's, or the server's
	// own) that rules may name. A rule naming an unknown method that is
	// not declared here is a config error. Default: none.
	ExtensionMethods []ExtensionMethod `json:"extension_methods,omitempty"`

	// The request header that carries the credential. For Authorization the
	// value is "Bearer <token>" (or a bare token); for any other header the
	// whole value is the token. Default: Authorization.
	Header string `json:"header,omitempty"`

	// The realm of the WWW-Authenticate challenge. Default: mcp.
	Realm string `json:"realm,omitempty"`

	// The status for an unknown token: 403 or 401 (with
	// error="invalid_token"). Default: automatic, which is 403 while only
	// static tokens are configured.
	InvalidTokenStatus int `json:"invalid_token_status,omitempty"`

	// How a JSON-RPC request that the caller may not make is answered:
	// "jsonrpc" answers HTTP 200 with a JSON-RPC error (the client's session
	// survives), "status" answers 403 with the same body. Default: jsonrpc.
	DenyWith string `json:"deny_with,omitempty"`

	// The largest POST body, in bytes, that is read and judged; a larger one
	// is refused with 413. Default: 1048576 (1 MiB).
	MaxBody int64 `json:"max_body,omitempty"`

	// Keep the credential header when passing the request upstream. By
	// default it is removed (together with Authorization), so no client
	// token reaches the backend. Default: false.
	PassAuthorization bool `json:"pass_authorization,omitempty"`

	// Answer a call to a tool, prompt or resource that the caller may not
	// use the way the backend answers one that does not exist, so that a
	// refusal does not reveal that the item exists. Default: off (deny_with
	// applies).
	HideDenied *HideDenied `json:"hide_denied,omitempty"`

	// A request header set to the caller's principal ("token:<name>",
	// "jwt:<iss>#<sub>") for the backend. Every client-supplied copy (any
	// case, repeated, or spelled with underscores) is removed first, so the
	// backend can trust it. Default: none.
	IdentityHeader string `json:"identity_header,omitempty"`

	// A request header set to the caller's roles, comma-separated, for the
	// backend; client-supplied copies are removed as for identity_header.
	// Default: none.
	RolesHeader string `json:"roles_header,omitempty"`

	// The key that binds session ids to principals: at least 32
	// characters, usually an {env.*} or {file.*} placeholder, shared by
	// every instance behind one load balancer. Default: a random key
	// created on first use in Caddy's storage (shared by instances that
	// share the storage).
	SessionKey string `json:"session_key,omitempty"`

	// The binding domain of this handler: a name mixed into every key
	// that binds session ids, task ids, request states, cursors and
	// hidden names, so that what one handler binds opens at no handler
	// with another scope. Handlers that share the session key (Caddy's
	// storage by default) and the scope are one domain: give each backend
	// its own scope. Default: none (one domain per key).
	BindingScope string `json:"binding_scope,omitempty"`

	// Turn session binding off: the backend's Mcp-Session-Id is passed as
	// it is. Default: false (binding is on).
	DisableSessionBinding bool `json:"disable_session_binding,omitempty"`

	// Origins (scheme://host[:port]) allowed to call. A request whose Origin
	// header is present and not listed gets 403 (MCP's DNS rebinding
	// rule); a request without Origin passes. Default: any origin.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

	// The oldest MCP revision accepted, such as 2025-06-18: a request of an
	// older revision is refused with 400. A request's revision is its
	// MCP-Protocol-Version header, else its _meta protocolVersion, else
	// initialize's protocolVersion; a request with none of these is
	// 2025-03-26. Default: every revision.
	MinProtocolVersion string `json:"min_protocol_version,omitempty"`

	// The memory budget for everything buffered: request bodies, replies
	// read whole, SSE events. Default: 256 MiB, a quarter of it per
	// principal.
	MemoryBudget *MemoryBudget `json:"memory_budget,omitempty"`

	// Failed-credential throttling per client IP (Caddy's client IP, so
	// trusted_proxies is honoured; IPv6 grouped by /64). Default: on, 30
	// wrong credentials per minute.
	Throttle *ThrottleConfig `json:"throttle,omitempty"`

	// Log every decision as one structured entry on the logger
	// http.handlers.mcp_auth.audit (route it with Caddy's log config).
	// Default: false.
	Audit bool `json:"audit,omitempty"`

	// Accept OAuth 2.1 access tokens (JWTs) from an authorization server,
	// next to or instead of static tokens. Default: none.
	JWT *JWTConfig `json:"jwt,omitempty"`

	// Accept opaque OAuth 2.1 access tokens, checked with the
	// authorization server's introspection endpoint (RFC 7662), next to or
	// instead of jwt and static tokens. Without jwt, resource_metadata
	// (resource and authorization_servers) is required. Default: none.
	Introspection *IntrospectionConfig `json:"introspection,omitempty"`

	// The Protected Resource Metadata (RFC 9728) served at
	// /.well-known/oauth-protected-resource<resource path> and named in
	// every challenge. With jwt its fields default to the audience and
	// the issuer. Default: none (served only when jwt or this is set).
	ResourceMetadata *ResourceMetadata `json:"resource_metadata,omitempty"`

	// The scopes a client should ask for first, sent as scope="…" in 401
	// challenges. Without it the parameter is omitted and clients fall
	// back to the metadata's scopes_supported. Default: none.
	ChallengeScope []string `json:"challenge_scope,omitempty"`

	logger *zap.Logger
	audit  *zap.Logger // nil unless Audit

	// credentials: the static token store, then the OAuth verifiers.
	static    *tokenStore
	verifiers []verifier
	mapper    *roleMapper // nil without OAuth: no step-up
	bearer    bool        // the credential header is Authorization
	invalid   int         // the status of an unknown static token

	prm                 *prmDoc
	challengeParams     string // `, resource_metadata="…"`
	challengeScopeParam string // `, scope="…"`

	minRevision int             // index into wire.Revisions; 0 accepts all
	ext         wire.Extensions // the extension methods that have a target (wire.ClassifyWith)
	streams     *streamSet
	throttle    *throttle // nil when off
	budget      *budget
	budgetKey   string
	sessions    *sessionKeys
	owners      *taskOwners // who each task id was handed to (tasks/list)
	metrics     *metrics
	origins     map[string]bool
	state       *handlerState
}

// handlerState is what a provisioned handler keeps while it serves.
type handlerState struct {
	// last503Log spaces the WARN lines of 503 answers (Unix seconds).
	last503Log atomic.Int64
}

// Token is a static bearer token.
type Token struct {
	// The token's public name: it appears in logs and in
	// {http.auth.user.id}. Required.
	Name string `json:"name,omitempty"`

	// The secret: "sha256:<64 hex digits>" (the digest of the token, as
	// printed by `caddy mcp-auth hash-token`), an {env.*} or {file.*}
	// placeholder resolved when the config is loaded, or a literal token
	// (the Caddyfile adapter turns literals into digests). Required.
	Secret string `json:"secret,omitempty"`

	// The names of the token's roles. At least one is required.
	Roles []string `json:"roles,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (MCPAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_auth",
		New: func() caddy.Module { return new(MCPAuth) },
	}
}

// Provision sets up the handler: it checks the config, compiles the
// roles, resolves secrets, reads token files and sets up the OAuth side.
// It touches no network.
func (m *MCPAuth) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
	m.logger.Info("provisioning mcp_auth", zap.String("version", Version))
	m.setDefaults()
	if err := m.validate(); err != nil {
		return err
	}
	roles, err := compileRoles(m.Roles, m.ExtensionMethods)
	if err != nil {
		return err
	}
	m.ext = extensionTable(m.ExtensionMethods)
	if m.static, err = newTokenStore(m.Tokens, m.TokenFiles, roles); err != nil {
		return err
	}
	if err := m.provisionExposure(ctx); err != nil {
		return err
	}
	m.streams = new(streamSet)
	m.state = new(handlerState)
	total, share := m.MemoryBudget.sizes()
	if m.budget, err = acquireBudget(total, share); err != nil {
		return err
	}
	m.budgetKey = budgetKey(total, share)
	m.throttle = m.Throttle.build()
	if m.metrics, err = newMetrics(ctx); err != nil {
		return err
	}
	m.minRevision = max(wire.RevisionIndex(m.MinProtocolVersion), 0)
	return m.provisionOAuth(ctx, roles)
}

func (m *MCPAuth) setDefaults() {
	if m.Header == "" {
		m.Header = defaultHeader
	}
	m.Header = http.CanonicalHeaderKey(m.Header)
	m.bearer = m.Header == defaultHeader
	if m.Realm == "" {
		m.Realm = defaultRealm
	}
	if m.DenyWith == "" {
		m.DenyWith = denyJSONRPC
	}
	if m.MaxBody == 0 {
		m.MaxBody = defaultMaxBody
	}
	m.invalid = m.InvalidTokenStatus
	if m.invalid == 0 {
		m.invalid = http.StatusForbidden
	}
}

// Cleanup ends the GET streams opened under this config and releases the
// shared JWKS fetcher.
func (m *MCPAuth) Cleanup() error {
	for _, v := range m.verifiers {
		v.close()
	}
	if m.owners != nil {
		_, _ = ownersPool.Delete("task owners")
	}
	if m.budget != nil {
		_, _ = budgets.Delete(m.budgetKey)
	}
	if m.streams != nil {
		if n := m.streams.closeAll(); n > 0 {
			m.logger.Info("closed GET streams opened under the previous config; clients reconnect", zap.Int("streams", n))
		}
	}
	return nil
}

// How denials are answered.
const (
	denyJSONRPC = "jsonrpc"
	denyStatus  = "status"
)

// Validate checks the settings that do not need provisioning.
func (m *MCPAuth) Validate() error { return m.validate() }

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (m *MCPAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if m.prm != nil && m.prm.matches(r.URL.Path) {
		// The Protected Resource Metadata: public, before any auth.
		m.prm.serve(w, r)
		return nil
	}
	if m.preflight(r) {
		// A CORS preflight carries no credential: the backend answers it,
		// without any credential or identity header the client sent.
		m.scrub(r)
		return next.ServeHTTP(w, r)
	}
	ex := exchanges.Get().(*exchange)
	defer ex.release()
	rf := m.admit(r, ex)
	if rf == nil {
		if r.Method == http.MethodPost {
			rf = m.judge(r, ex)
		} else {
			rf = m.checkVersionHeader(r)
		}
	}
	if rf != nil {
		return m.answer(w, r, ex.p, rf)
	}
	return m.forward(w, r, ex, next)
}

// exchange is one request's state on its way through the pipeline.
type exchange struct {
	p         *principal
	keys      *bindingKeys
	body      wire.Body
	decisions []Decision
	small     [1]Decision
	// edits rewrite the body before it is forwarded (bound ids unwrapped,
	// hidden names replaced); mcpName, when set, is the Mcp-Name header
	// that goes with the rewritten body.
	edits   wire.Edits
	mcpName string
	reply   responseWriter
	// readReply: a JSON reply is read whole to be rewritten (readsReply).
	readReply bool
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (ex *exchange) release() {
	ex.p, ex.keys, ex.readReply, ex.mcpName = nil, nil, false, ""
	ex.body.Msgs = nil
	clear(ex.small[:])
	ex.decisions = nil
	ex.edits = ex.edits[:0]
	if cap(ex.edits) > 64 {
		ex.edits = nil
	}
	// The reply writer keeps its small buffers, nothing else; their charge
	// goes back to the budget until the next request takes them.
	rw := &ex.reply
	rw.acct.release()
	*rw = responseWriter{buf: rw.buf[:0], scratch: rw.scratch[:0], edits: rw.edits[:0]}
	exchanges.Put(ex)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*MCPAuth)(nil)
	_ caddy.Validator             = (*MCPAuth)(nil)
	_ caddy.CleanerUpper          = (*MCPAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*MCPAuth)(nil)
)

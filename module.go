// Package mcpauth is a Caddy HTTP handler that authenticates callers of an
// MCP (Model Context Protocol) server and authorizes each JSON-RPC action
// (method and target: tool, resource, prompt) against roles, before the
// request reaches the backend.
package mcpauth

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
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

	// Turn session binding off: the backend's Mcp-Session-Id is passed as
	// it is. Default: false (binding is on).
	DisableSessionBinding bool `json:"disable_session_binding,omitempty"`

	// Origins (scheme://host[:port]) allowed to call. A request whose Origin
	// header is present and not listed gets 403 (MCP's DNS rebinding
	// rule); a request without Origin passes. Default: any origin.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

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

	tokens  map[[32]byte]*principal
	bearer  bool
	logger  *zap.Logger
	invalid int

	// stepUp, set when OAuth is configured, names the scope string to ask
	// for (the scopes the caller has plus one that would grant the action)
	// when some scope would entitle the caller to a denied action.
	stepUp func(p *principal, a Action) (scope string, ok bool)

	// OAuth (jwt.go, metadata.go): nil / empty unless configured.
	oauth               *oauthState
	prm                 *prmDoc
	challengeParams     string // `, resource_metadata="…"`
	challengeScopeParam string // `, scope="…"`

	streams  *streamSet
	throttle *throttle    // nil when off
	sessions *sessionKeys // nil when session binding is off
	metrics  *metrics
	// lastReply is how the backend last framed a reply (hide_denied only).
	lastReply *atomic.Pointer[replyShape]
	origins   map[string]bool
	audit     *zap.Logger
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

// principal is an authenticated caller.
type principal struct {
	// id is the namespaced identity for anything keyed on identity
	// (session binding, audit, throttling): "token:<name>" for a static
	// token, "jwt:<iss>#<sub>" for an access token.
	id string
	// name is the plain public name: the token name, or a JWT's sub. It is
	// {http.auth.user.id}.
	name      string
	digest    [32]byte // static tokens only
	roleNames []string
	roles     []*compiledRole
	rolesStr  string
	// OAuth callers only.
	scopes   []string
	clientID string
	exp      time.Time
}

// setPlaceholders publishes the caller to the replacer.
func (p *principal) setPlaceholders(repl *caddy.Replacer) {
	if repl == nil {
		return
	}
	repl.Set("http.auth.user.id", p.name)
	repl.Set("http.auth.user.roles", p.rolesStr)
	repl.Set("http.mcp_auth.principal", p.id)
	if p.scopes != nil {
		repl.Set("http.auth.user.scopes", strings.Join(p.scopes, " "))
		repl.Set("http.auth.user.client_id", p.clientID)
	}
}

// CaddyModule returns the Caddy module information.
func (MCPAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_auth",
		New: func() caddy.Module { return new(MCPAuth) },
	}
}

// Provision sets up the handler: it compiles the roles, resolves secrets
// and reads token files.
func (m *MCPAuth) Provision(ctx caddy.Context) error {
	m.logger = ctx.Logger()
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
	if err := m.validateSettings(); err != nil {
		return err
	}
	if err := m.provisionExposure(ctx); err != nil {
		return err
	}
	m.streams = new(streamSet)
	m.lastReply = new(atomic.Pointer[replyShape])
	if t := m.Throttle; t == nil || !t.Off {
		failures, window := defaultThrottleFailures, defaultThrottleWindow
		if t != nil && t.Failures > 0 {
			failures = t.Failures
		}
		if t != nil && t.Window > 0 {
			window = time.Duration(t.Window)
		}
		m.throttle = newThrottle(failures, window, throttleEntries)
	}
	var err error
	if m.metrics, err = newMetrics(ctx); err != nil {
		return err
	}

	roles := make(map[string]*compiledRole, len(m.Roles))
	names := make([]string, 0, len(m.Roles))
	for name := range m.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cr, err := compileRole(name, m.Roles[name])
		if err != nil {
			return err
		}
		roles[name] = cr
	}

	tokens := append([]Token(nil), m.Tokens...)
	for _, path := range m.TokenFiles {
		more, err := readTokenFile(path)
		if err != nil {
			return err
		}
		tokens = append(tokens, more...)
	}

	repl := caddy.NewReplacer()
	m.tokens = make(map[[32]byte]*principal, len(tokens))
	byName := make(map[string]bool, len(tokens))
	for i, t := range tokens {
		where := fmt.Sprintf("token %q", t.Name)
		if t.Name == "" {
			return fmt.Errorf("tokens[%d]: name is required", i)
		}
		if byName[t.Name] {
			return fmt.Errorf("%s: duplicate token name", where)
		}
		byName[t.Name] = true
		if len(t.Roles) == 0 {
			return fmt.Errorf("%s: at least one role is required", where)
		}
		p := &principal{id: "token:" + t.Name, name: t.Name, roleNames: t.Roles, rolesStr: strings.Join(t.Roles, ",")}
		for _, rn := range t.Roles {
			cr, ok := roles[rn]
			if !ok {
				return fmt.Errorf("%s: unknown role %q", where, rn)
			}
			p.roles = append(p.roles, cr)
		}
		secret := t.Secret
		if isRuntimeSecret(secret) {
			var err error
			secret, err = repl.ReplaceOrErr(secret, true, true)
			if err != nil {
				// The error names the placeholder, never its value.
				return fmt.Errorf("%s: secret %s: %v", where, t.Secret, err)
			}
		}
		d, err := secretDigest(secret)
		if err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if other, dup := m.tokens[d]; dup {
			return fmt.Errorf("%s: same secret as token %q", where, other.name)
		}
		p.digest = d
		m.tokens[d] = p
	}
	return m.provisionOAuth(ctx)
}

// Cleanup ends the GET streams opened under this config and releases the
// shared JWKS fetcher.
func (m *MCPAuth) Cleanup() error {
	m.cleanupOAuth()
	if n := m.streams.closeAll(); n > 0 {
		m.logger.Info("closed GET streams opened under the previous config; clients reconnect", zap.Int("streams", n))
	}
	return nil
}

// How denials are answered.
const (
	denyJSONRPC = "jsonrpc"
	denyStatus  = "status"
)

// Validate checks the settings that do not need provisioning.
func (m *MCPAuth) Validate() error { return m.validateSettings() }

func (m *MCPAuth) validateSettings() error {
	switch m.DenyWith {
	case "", denyJSONRPC, denyStatus:
	default:
		return fmt.Errorf("deny_with: %q is neither %q nor %q", m.DenyWith, denyJSONRPC, denyStatus)
	}
	switch m.InvalidTokenStatus {
	case 0, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return fmt.Errorf("invalid_token_status: %d is neither 401 nor 403", m.InvalidTokenStatus)
	}
	if m.MaxBody < 0 {
		return fmt.Errorf("max_body: %d is negative", m.MaxBody)
	}
	if m.Header != "" && !validHeaderName(m.Header) {
		return fmt.Errorf("header: %q is not a valid header name", m.Header)
	}
	return nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// lookup finds the principal of a presented token. The map is keyed by
// the SHA-256 digest of the token, so the time taken depends on the digest,
// never on how much of a real secret a guess shares.
func (m *MCPAuth) lookup(token string) *principal {
	d := digestOf(token)
	p := m.tokens[d]
	if p == nil || subtle.ConstantTimeCompare(p.digest[:], d[:]) != 1 {
		return nil
	}
	return p
}

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (m *MCPAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if m.prm != nil && m.prm.matches(r.URL.Path) {
		// The Protected Resource Metadata: public, before any auth.
		m.prm.serve(w, r)
		return nil
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	case http.MethodOptions:
		if r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" &&
			r.ContentLength <= 0 && len(r.TransferEncoding) == 0 && m.originAllowed(r) {
			// A CORS preflight carries no credential: the backend answers it.
			return next.ServeHTTP(w, r)
		}
	default:
		w.Header().Set("Allow", "GET, POST, DELETE, OPTIONS")
		m.refuse(w, r, http.StatusMethodNotAllowed, "method_not_allowed",
			"method "+r.Method+" is not allowed on an MCP endpoint")
		return nil
	}

	if !m.originAllowed(r) {
		m.refuse(w, r, http.StatusForbidden, "forbidden_origin", "requests from this Origin are not allowed")
		m.auditRefusal(r, nil, "forbidden_origin")
		return nil
	}

	p, ok := m.authenticate(w, r)
	if !ok {
		return nil
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	p.setPlaceholders(repl)

	// Session binding: unwrap the id the client holds, after checking that
	// it was issued to this principal.
	var sessionKey []byte
	if m.sessions != nil {
		var err error
		if sessionKey, err = m.sessions.get(r.Context()); err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, err)
		}
		switch ids := r.Header.Values("Mcp-Session-Id"); len(ids) {
		case 0:
		case 1:
			sid, ok := unwrapSessionID(sessionKey, p.id, ids[0])
			if !ok {
				m.refuse(w, r, http.StatusNotFound, "session_not_found",
					"no such session for this caller; start a new session with initialize")
				m.auditRefusal(r, p, "session_not_found")
				return nil
			}
			r.Header.Set("Mcp-Session-Id", sid)
		default:
			m.refuse(w, r, http.StatusBadRequest, "invalid_request", "Mcp-Session-Id may appear once")
			return nil
		}
	}

	if r.Method != http.MethodPost && (r.ContentLength > 0 || len(r.TransferEncoding) > 0) {
		// Only a POST body is judged: a body on GET, DELETE or OPTIONS
		// would reach the backend unjudged.
		m.refuse(w, r, http.StatusBadRequest, "invalid_request", "a "+r.Method+" request to an MCP endpoint has no body")
		return nil
	}
	hasList := false
	if r.Method == http.MethodPost {
		var ok bool
		if ok, hasList = m.judgeBody(w, r, p, repl); !ok {
			return nil
		}
	} else {
		if ce := m.logger.Check(zapcore.DebugLevel, "allowed"); ce != nil {
			ce.Write(zap.String("user", p.name), zap.String("roles", p.rolesStr), zap.String("http_method", r.Method))
		}
		m.auditHTTP(r, p)
		m.metrics.decision("allow", "lifecycle", r.Method)
	}

	if !m.PassAuthorization {
		r.Header.Del(m.Header)
		r.Header.Del(defaultHeader)
	}
	m.setIdentityHeaders(r, p)
	if r.Method == http.MethodDelete && sessionKey == nil {
		return next.ServeHTTP(w, r)
	}
	if r.Method == http.MethodGet {
		var done func()
		r, done = m.streams.track(r, p)
		defer done()
	}
	// Replies are read (list filtering, session ids): ask the backend, and
	// any encode handler inside this one, for an uncompressed reply.
	r.Header.Set("Accept-Encoding", "identity")
	rw := &responseWriter{
		ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		roles:                 p.roles,
		bufferJSON:            hasList,
	}
	if sessionKey != nil {
		rw.wrapSession = func(sid string) string { return wrapSessionID(sessionKey, p.id, sid) }
	}
	if m.HideDenied != nil && r.Method == http.MethodPost {
		rw.onReply = func(sse bool, cc string) {
			if old := m.lastReply.Load(); old == nil || old.sse != sse || old.cacheControl != cc {
				m.lastReply.Store(&replyShape{sse: sse, cacheControl: cc})
			}
		}
	}
	err := next.ServeHTTP(rw, r)
	if err != nil && rw.mode == modeJSON {
		// The buffered reply was cut short; nothing of it was written, so
		// Caddy's error handling answers (502 from reverse_proxy).
		return err
	}
	if rw.finish() {
		m.logger.Warn("withheld a list reply that could not be filtered",
			zap.String("user", p.name), zap.String("http_method", r.Method))
	}
	return err
}

// authenticate reads and checks the credential, answering the refusal
// itself when there is one.
func (m *MCPAuth) authenticate(w http.ResponseWriter, r *http.Request) (*principal, bool) {
	if m.oauth != nil && !m.bearer && len(r.Header.Values(m.Header)) == 0 {
		// A custom header carries static tokens only; an access token
		// always comes in Authorization.
		if tok, st := parseCredential(r.Header.Values(defaultHeader), true); st == credOK {
			if m.throttled(w, r) {
				return nil, false
			}
			return m.authenticateJWT(w, r, tok)
		}
	}
	tok, st := parseCredential(r.Header.Values(m.Header), m.bearer)
	switch st {
	case credMissing:
		w.Header().Set("WWW-Authenticate", m.challenge(""))
		m.refuse(w, r, http.StatusUnauthorized, "unauthorized", "a bearer token is required")
		m.auditRefusal(r, nil, "unauthorized")
		return nil, false
	case credMalformed:
		w.Header().Set("WWW-Authenticate", m.challenge("invalid_request"))
		m.refuse(w, r, http.StatusBadRequest, "invalid_request",
			"the credential header must appear once and hold one token of printable ASCII")
		m.auditRefusal(r, nil, "invalid_request")
		return nil, false
	}
	if m.throttled(w, r) {
		return nil, false
	}
	p := m.lookup(tok)
	if p == nil && m.oauth != nil && m.bearer {
		return m.authenticateJWT(w, r, tok)
	}
	if p == nil {
		m.failedCredential(r)
		w.Header().Set("WWW-Authenticate", m.challenge("invalid_token"))
		m.refuse(w, r, m.invalid, "invalid_token", "the token is not known")
		m.auditRefusal(r, nil, "invalid_token")
		if ce := m.logger.Check(zapcore.InfoLevel, "unknown token"); ce != nil {
			ce.Write(zap.String("remote_ip", remoteHost(r)))
		}
		return nil, false
	}
	return p, true
}

// throttled answers 429 when the client has sent too many wrong
// credentials lately; no token is checked then.
func (m *MCPAuth) throttled(w http.ResponseWriter, r *http.Request) bool {
	if m.throttle == nil || !m.throttle.any() {
		return false
	}
	left, blocked := m.throttle.blocked(clientGroup(remoteHost(r)))
	if !blocked {
		return false
	}
	secs := int((left + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	m.refuse(w, r, http.StatusTooManyRequests, "too_many_requests",
		"too many wrong credentials from this address; retry after "+strconv.Itoa(secs)+" s")
	m.auditRefusal(r, nil, "throttled")
	return true
}

// failedCredential counts a wrong credential against the client.
func (m *MCPAuth) failedCredential(r *http.Request) {
	if m.throttle != nil {
		m.throttle.fail(clientGroup(remoteHost(r)))
	}
}

func (m *MCPAuth) challenge(code string) string {
	c := `Bearer realm="` + m.Realm + `"`
	if code != "" {
		c += `, error="` + code + `"`
	}
	return c + m.oauthChallengeParams(code)
}

// judgeBody reads, classifies and judges a POST body, and restores it for
// the backend. It answers the refusal itself and returns false when the
// request must not go on.
func (m *MCPAuth) judgeBody(w http.ResponseWriter, r *http.Request, p *principal, repl *caddy.Replacer) (ok, hasList bool) {
	cts := r.Header.Values("Content-Type")
	mt := ""
	if len(cts) == 1 {
		if mt = cts[0]; mt != "application/json" {
			mt, _, _ = mime.ParseMediaType(mt)
		}
	}
	if mt != "application/json" {
		m.refuseRPC(w, r, http.StatusUnsupportedMediaType, rpcErrorBody(nil, codeInvalidRequest,
			"unsupported media type: a JSON-RPC message is sent as application/json"))
		return false, false
	}
	if ce := r.Header.Values("Content-Encoding"); len(ce) > 1 || (len(ce) == 1 && !strings.EqualFold(strings.TrimSpace(ce[0]), "identity")) {
		m.refuseRPC(w, r, http.StatusUnsupportedMediaType, rpcErrorBody(nil, codeInvalidRequest,
			"unsupported content encoding: send the JSON-RPC message uncompressed"))
		return false, false
	}
	if r.ContentLength > m.MaxBody {
		m.refuseRPC(w, r, http.StatusRequestEntityTooLarge, rpcErrorBody(nil, codeInvalidRequest, m.tooLarge()))
		return false, false
	}
	pb, err := readBody(r.Body, r.ContentLength, m.MaxBody)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			m.refuseRPC(w, r, http.StatusRequestEntityTooLarge, rpcErrorBody(nil, codeInvalidRequest, m.tooLarge()))
		} else {
			m.refuseRPC(w, r, http.StatusBadRequest, rpcErrorBody(nil, codeParseError, "parse error: the body could not be read"))
		}
		return false, false
	}
	forwarded := false
	defer func() {
		if !forwarded {
			_ = pb.Close() // refused: nothing else reads the body
		}
	}()
	body := pb.bytes()
	r.Body = pb
	r.GetBody = nil
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	r.Header.Del("Content-Length") // the transport sends ContentLength

	batch, msgs, rerr := classify(body)
	if rerr != nil {
		m.refuseRPC(w, r, rerr.status, rpcErrorBody(rerr.id, rerr.code, rerr.msg))
		m.auditRefusal(r, p, "malformed")
		return false, false
	}
	if why := checkMCPHeaders(r, batch, msgs); why != "" {
		m.refuseRPC(w, r, http.StatusBadRequest, rpcErrorBody(msgs[0].id, codeInvalidRequest, "invalid request: "+why))
		m.auditRefusal(r, p, "header_mismatch")
		return false, false
	}

	var denied []int // indexes of denied messages
	decisions := make([]Decision, len(msgs))
	for i, msg := range msgs {
		d := Decision{Allowed: true, Lifecycle: true}
		if msg.kind != kindResponse {
			d = decide(p.roles, msg.action)
		}
		decisions[i] = d
		if !d.Allowed {
			denied = append(denied, i)
		}
		if _, isList := listMethodUse(msg.action.Method); isList && msg.kind == kindRequest {
			hasList = true
		}
	}
	if repl != nil {
		method, target := summarize(msgs)
		repl.Set("http.mcp_auth.method", method)
		repl.Set("http.mcp_auth.target", target)
		if len(denied) > 0 {
			repl.Set("http.mcp_auth.decision", "deny")
		} else {
			repl.Set("http.mcp_auth.decision", "allow")
		}
	}
	m.logDecisions(r, p, msgs, decisions, len(denied) > 0)
	if len(denied) == 0 {
		forwarded = true
		return true, hasList
	}

	m.answerDenied(w, r, p, batch, msgs, decisions)
	return false, false
}

// answerDenied answers a body in which some message was denied. Precedence:
// a step-up answer for an OAuth caller whom some scope would entitle (403
// insufficient_scope) wins; else hide_denied (answer as for an unknown
// item); else deny_with. In a batch, one step-up element makes the whole
// answer the step-up 403.
func (m *MCPAuth) answerDenied(w http.ResponseWriter, r *http.Request, p *principal, batch bool, msgs []message, decisions []Decision) {
	if m.stepUp != nil {
		for i, msg := range msgs {
			if decisions[i].Allowed {
				continue
			}
			if scope, ok := m.stepUp(p, msg.action); ok {
				m.insufficientScope(w, r, scope, msg.action)
				return
			}
		}
	}
	if h := m.HideDenied; h != nil {
		// Answer as for an unknown item, each denied request of a batch too.
		if !batch {
			if body, ok := h.unknownAnswer(msgs[0].id, msgs[0].action); ok {
				m.writeHidden(w, r, body)
				return
			}
		} else {
			var out bytes.Buffer
			out.WriteByte('[')
			n, hidden := 0, true
			for i, msg := range msgs {
				if msg.kind != kindRequest {
					continue
				}
				body := rpcErrorBody(msg.id, CodePermissionDenied, "batch refused: another request in the batch was denied")
				if !decisions[i].Allowed {
					var ok bool
					if body, ok = h.unknownAnswer(msg.id, msg.action); !ok {
						hidden = false
					}
				}
				if n > 0 {
					out.WriteByte(',')
				}
				n++
				out.Write(body)
			}
			out.WriteByte(']')
			if hidden && n > 0 {
				m.refuseRPC(w, r, http.StatusOK, out.Bytes())
				return
			}
		}
	}
	status := http.StatusOK
	if m.DenyWith == denyStatus {
		status = http.StatusForbidden
	}
	if !batch {
		msg := msgs[0]
		m.refuseRPC(w, r, status, rpcErrorBody(msg.id, CodePermissionDenied, deniedMessage(msg.action)))
		return
	}
	// A batch with any denied element is refused whole: one error for each
	// request in it.
	var out bytes.Buffer
	out.WriteByte('[')
	n := 0
	for i, msg := range msgs {
		if msg.kind != kindRequest {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		text := "batch refused: another request in the batch was denied"
		if !decisions[i].Allowed {
			text = deniedMessage(msg.action)
		}
		out.Write(rpcErrorBody(msg.id, CodePermissionDenied, text))
	}
	out.WriteByte(']')
	if n == 0 {
		// Only notifications were denied: nothing to answer per request.
		m.refuseRPC(w, r, http.StatusForbidden, rpcErrorBody(nil, CodePermissionDenied,
			"batch refused: a notification in the batch was denied"))
		return
	}
	m.refuseRPC(w, r, status, out.Bytes())
}

// insufficientScope answers the step-up 403 (RFC 6750 §3.1): the client
// may ask its authorization server for the scope named and retry.
func (m *MCPAuth) insufficientScope(w http.ResponseWriter, r *http.Request, scope string, a Action) {
	w.Header().Set("WWW-Authenticate", m.challenge("insufficient_scope")+`, scope="`+scope+`"`)
	m.refuse(w, r, http.StatusForbidden, "insufficient_scope", deniedMessage(a)+" (needs scope "+scope+")")
}

func (m *MCPAuth) tooLarge() string {
	return "request body too large: the limit is " + strconv.FormatInt(m.MaxBody, 10) + " bytes"
}

func deniedMessage(a Action) string {
	if a.HasTarget {
		return "permission denied: " + a.Method + " " + quote(a.Target)
	}
	return "permission denied: " + a.Method
}

// summarize gives the method and target placeholders: the message's own,
// or for a batch the comma-separated lists of its requests'.
func summarize(msgs []message) (string, string) {
	if len(msgs) == 1 {
		return msgs[0].action.Method, msgs[0].action.Target
	}
	var ms, ts []string
	for _, msg := range msgs {
		if msg.kind == kindResponse {
			continue
		}
		ms = append(ms, msg.action.Method)
		ts = append(ts, msg.action.Target)
	}
	return strings.Join(ms, ","), strings.Join(ts, ",")
}

func (m *MCPAuth) logDecisions(r *http.Request, p *principal, msgs []message, ds []Decision, anyDenied bool) {
	level := zapcore.DebugLevel
	if anyDenied {
		level = zapcore.InfoLevel
	}
	for i, msg := range msgs {
		if msg.kind == kindResponse {
			continue
		}
		text, outcome := "allowed", "allow"
		if !ds[i].Allowed {
			text, outcome = "denied", "deny"
		} else if anyDenied {
			text, outcome = "refused with its batch", "deny"
		}
		m.metrics.decision(outcome, roleLabel(ds[i]), methodLabel(msg.action.Method))
		if ce := m.logger.Check(level, text); ce != nil {
			ce.Write(zap.String("user", p.name), zap.String("roles", p.rolesStr),
				zap.String("method", msg.action.Method), zap.String("target", msg.action.Target),
				zap.String("rule", ds[i].Reason()))
		}
		if m.audit != nil {
			decision := "allow"
			if anyDenied {
				decision = "deny"
			}
			m.auditDecision(r, p, msg.action, decision, ds[i])
		}
	}
}

// refuse answers a refusal outside JSON-RPC: {"error","error_description"}.
func (m *MCPAuth) refuse(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	m.metrics.refusal(code)
	body := `{"error":` + quote(code) + `,"error_description":` + quote(desc) + "}\n"
	m.write(w, r, status, []byte(body))
}

// refuseRPC answers with a JSON-RPC error body.
func (m *MCPAuth) refuseRPC(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	switch status {
	case http.StatusOK, http.StatusForbidden: // denials, counted as decisions
	case http.StatusRequestEntityTooLarge:
		m.metrics.refusal("too_large")
	case http.StatusUnsupportedMediaType:
		m.metrics.refusal("unsupported_media_type")
	default:
		m.metrics.refusal("malformed")
	}
	m.write(w, r, status, append(body, '\n'))
}

func (m *MCPAuth) write(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" && m.originAllowed(r) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Mcp-Session-Id")
		h.Add("Vary", "Origin")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// rpcErrorBody renders a JSON-RPC error response, echoing the raw id (or
// null when unknown).
func rpcErrorBody(id []byte, code int, msg string) []byte {
	if id == nil {
		id = []byte("null")
	}
	b := make([]byte, 0, 64+len(id)+len(msg))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"message":`...)
	b = append(b, quote(msg)...)
	b = append(b, "}}"...)
	return b
}

func remoteHost(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return host
}

// Interface guards
var (
	_ caddy.Provisioner           = (*MCPAuth)(nil)
	_ caddy.Validator             = (*MCPAuth)(nil)
	_ caddy.CleanerUpper          = (*MCPAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*MCPAuth)(nil)
)

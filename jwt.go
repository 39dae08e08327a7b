package mcpauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// JWTConfig makes mcp_auth an OAuth 2.1 resource server: it accepts JWT
// access tokens (RFC 9068) issued by one authorization server for this
// resource, next to (or instead of) static tokens. Access tokens always
// come in the Authorization header as "Bearer <token>".
type JWTConfig struct {
	// The issuer, compared exactly with the token's iss claim. It is also
	// the default authorization server in the Protected Resource
	// Metadata. Required.
	Issuer string `json:"issuer,omitempty"`

	// The URL of the issuer's JSON Web Key Set. The key set is fetched in
	// the background (never while the config loads), refreshed on the
	// schedule of its cache headers, refetched when a token names an
	// unknown key (at most once per refetch_interval), and shared across
	// config reloads. Exactly one of jwks_url, jwks_file and public_keys
	// is required.
	JWKSURL string `json:"jwks_url,omitempty"`

	// A file holding a JSON Web Key Set, read when the config is loaded.
	JWKSFile string `json:"jwks_file,omitempty"`

	// PEM files each holding one public key or certificate, read when the
	// config is loaded.
	PublicKeys []string `json:"public_keys,omitempty"`

	// The audiences this resource answers to: a token's aud claim must
	// contain one of them (RFC 8707). Usually the MCP endpoint's canonical
	// URL, such as https://mcp.example.com/mcp. At least one is required.
	Audiences []string `json:"audiences,omitempty"`

	// The signature algorithms accepted. HMAC algorithms and none are never
	// accepted. Default: RS256 ES256 EdDSA PS256.
	Algorithms []string `json:"algorithms,omitempty"`

	// The clock skew allowed when checking exp, nbf and iat. At most 5m.
	// Default: 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`

	// The claim holding role names, as a dot path into nested objects
	// (such as realm_access.roles). The value is an array of strings or a
	// space-separated string; names that are not configured roles are
	// ignored. A claim name that itself contains dots (such as
	// https://example.com/roles) is found too. Default: none.
	RolesClaim string `json:"roles_claim,omitempty"`

	// Roles granted by scopes, in order. The order matters for step-up:
	// the first scope that would grant a denied action is the one named.
	ScopeRoles []ScopeRole `json:"scope_roles,omitempty"`

	// The shortest time between two fetches of the key set caused by
	// tokens naming an unknown key (or arriving before any key set), so
	// that forged tokens cannot cause a fetch storm. Default: 30s.
	RefetchInterval caddy.Duration `json:"refetch_interval,omitempty"`

	// Bounds on the refresh interval read from the key set's cache
	// headers (Cache-Control max-age, Expires). Without cache headers the
	// key set is refreshed hourly, within these bounds. Default: 1m and
	// 24h.
	MinRefresh caddy.Duration `json:"min_refresh,omitempty"`
	MaxRefresh caddy.Duration `json:"max_refresh,omitempty"`

	// The most verified tokens remembered, so that a busy client pays the
	// signature check once per token. An entry never outlives the token's
	// exp. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`
}

// ScopeRole maps an OAuth scope to roles.
type ScopeRole struct {
	// The scope, as it appears in the token's scope or scp claim. Required.
	Scope string `json:"scope,omitempty"`
	// The roles a token with this scope holds. At least one is required.
	Roles []string `json:"roles,omitempty"`
}

// Limits and defaults of token verification.
const (
	defaultLeeway    = 30 * time.Second
	maxLeeway        = 5 * time.Minute
	defaultCacheSize = 10000
	// maxTokenSize bounds the access tokens parsed; real ones are a few
	// kilobytes.
	maxTokenSize = 16 << 10
	// maxCandidates bounds the keys tried for a token without a kid.
	maxCandidates = 4
	// retryAfterSeconds is the Retry-After of a 503 answered while no key
	// set has arrived.
	retryAfterSeconds = 5
)

var defaultAlgorithms = []string{"RS256", "ES256", "EdDSA", "PS256"}

// allowedAlgorithms are the asymmetric signature algorithms that may be
// configured.
var allowedAlgorithms = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"PS256": jose.PS256, "PS384": jose.PS384, "PS512": jose.PS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "ES512": jose.ES512,
	"EdDSA": jose.EdDSA,
}

// oauthState is the provisioned OAuth side of the handler.
type oauthState struct {
	issuer     string
	audiences  []string
	algs       []jose.SignatureAlgorithm
	leeway     time.Duration
	rolesClaim string
	roles      map[string]*compiledRole
	scopeRoles []compiledScopeRole
	keys       keySource
	poolKey    string // the jwksPool key held, "" when none
	cache      *tokenCache
	intro      *introspector // nil unless introspection is configured
	now        func() time.Time
	logger     *zap.Logger
	last503Log atomic.Int64
}

type compiledScopeRole struct {
	scope string
	names []string
	roles []*compiledRole
}

// resolveConfigString expands {env.*} and {file.*} placeholders.
func resolveConfigString(repl *caddy.Replacer, field, s string) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	out, err := repl.ReplaceOrErr(s, true, true)
	if err != nil {
		return "", fmt.Errorf("%s: %v", field, err)
	}
	return out, nil
}

// provisionOAuth sets up access token validation, the Protected Resource
// Metadata and the OAuth challenges. It is called at the end of Provision
// and touches the network never: a key set URL is fetched in the
// background.
func (m *MCPAuth) provisionOAuth(ctx caddy.Context) error {
	if m.JWT == nil && m.Introspection == nil && m.ResourceMetadata == nil && len(m.ChallengeScope) == 0 {
		return nil
	}
	repl := caddy.NewReplacer()
	var o *oauthState
	var err error
	if m.JWT != nil {
		if o, err = m.compileJWT(repl); err != nil {
			return err
		}
	}
	if m.Introspection != nil {
		if o, err = m.compileIntrospection(repl, o); err != nil {
			return err
		}
	}
	if o != nil {
		if m.InvalidTokenStatus == http.StatusForbidden {
			return errors.New("invalid_token 403 cannot be used with jwt or introspection: OAuth clients re-authenticate only on 401")
		}
		m.invalid = http.StatusUnauthorized
	}

	// The Protected Resource Metadata and the challenge parameters.
	md := ResourceMetadata{}
	if m.ResourceMetadata != nil {
		md = *m.ResourceMetadata
	}
	if err := md.resolve(repl); err != nil {
		return fmt.Errorf("resource_metadata: %v", err)
	}
	if m.JWT != nil {
		if md.Resource == "" {
			if len(o.audiences) > 1 {
				return errors.New("resource_metadata: resource is required when jwt names several audiences (clients must be told which one to ask tokens for)")
			}
			md.Resource = o.audiences[0]
		}
		found := false
		for _, a := range o.audiences {
			found = found || a == md.Resource
		}
		if !found {
			return fmt.Errorf("resource_metadata: resource %q is not among the jwt audiences %q: clients would obtain tokens this handler refuses", md.Resource, o.audiences)
		}
		if len(md.AuthorizationServers) == 0 {
			md.AuthorizationServers = []string{o.issuer}
		}
	}
	if o != nil && len(md.ScopesSupported) == 0 {
		for _, sr := range o.scopeRoles {
			md.ScopesSupported = append(md.ScopesSupported, sr.scope)
		}
	}
	for i, s := range m.ChallengeScope {
		if !validScopeToken(s) {
			return fmt.Errorf("challenge_scope[%d]: %q is not a valid scope", i, s)
		}
	}
	doc, err := buildPRM(md)
	if err != nil {
		return fmt.Errorf("resource_metadata: %v", err)
	}
	m.prm = doc
	m.challengeParams = `, resource_metadata="` + doc.url + `"`
	if len(m.ChallengeScope) > 0 {
		m.challengeScopeParam = `, scope="` + strings.Join(m.ChallengeScope, " ") + `"`
	}

	if o == nil {
		return nil
	}
	o.logger = m.logger
	// Key source last: a pool entry acquired here is released in Cleanup.
	if m.JWT != nil {
		if err := o.provisionKeys(m.JWT, repl, m.logger, m.metrics); err != nil {
			return err
		}
	}
	if o.intro != nil {
		o.finishIntrospection(md)
	}
	m.oauth = o
	m.stepUp = o.stepUp
	return nil
}

// cleanupOAuth releases the shared key set fetcher and aborts the
// introspection requests under way.
func (m *MCPAuth) cleanupOAuth() {
	if m.oauth != nil && m.oauth.intro != nil {
		m.oauth.intro.close()
	}
	if m.oauth != nil && m.oauth.poolKey != "" {
		_, _ = jwksPool.Delete(m.oauth.poolKey)
		m.oauth.poolKey = ""
	}
}

func (m *MCPAuth) compileJWT(repl *caddy.Replacer) (*oauthState, error) {
	c := m.JWT
	o := &oauthState{now: time.Now}
	var err error
	if o.issuer, err = resolveConfigString(repl, "jwt: issuer", c.Issuer); err != nil {
		return nil, err
	}
	if o.issuer == "" {
		return nil, errors.New("jwt: issuer is required")
	}
	if len(c.Audiences) == 0 {
		return nil, errors.New("jwt: at least one audience is required")
	}
	for i, a := range c.Audiences {
		a, err = resolveConfigString(repl, fmt.Sprintf("jwt: audiences[%d]", i), a)
		if err != nil {
			return nil, err
		}
		if a == "" {
			return nil, fmt.Errorf("jwt: audiences[%d] is empty", i)
		}
		o.audiences = append(o.audiences, a)
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		alg, ok := allowedAlgorithms[a]
		if !ok {
			return nil, fmt.Errorf("jwt: algorithm %q is not allowed (want RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA; HMAC and none never are)", a)
		}
		o.algs = append(o.algs, alg)
	}
	o.leeway = time.Duration(c.Leeway)
	if c.Leeway == 0 {
		o.leeway = defaultLeeway
	}
	if o.leeway < 0 || o.leeway > maxLeeway {
		return nil, fmt.Errorf("jwt: leeway %s is outside 0..%s", o.leeway, maxLeeway)
	}
	if c.CacheSize < 0 {
		return nil, fmt.Errorf("jwt: cache_size %d is negative", c.CacheSize)
	}
	size := c.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	o.cache = newTokenCache(size)
	if err := o.compileMapping("jwt", m.Roles, c.RolesClaim, c.ScopeRoles); err != nil {
		return nil, err
	}

	sources := 0
	for _, set := range []bool{c.JWKSURL != "", c.JWKSFile != "", len(c.PublicKeys) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("jwt: exactly one of jwks_url, jwks_file and public_key is required")
	}
	for _, d := range []struct {
		name string
		v    caddy.Duration
	}{{"refetch_interval", c.RefetchInterval}, {"min_refresh", c.MinRefresh}, {"max_refresh", c.MaxRefresh}} {
		if d.v < 0 {
			return nil, fmt.Errorf("jwt: %s is negative", d.name)
		}
	}
	return o, nil
}

// compileMapping compiles the roles and the scope → role mapping of the
// block named block (jwt or introspection): the one mapping that serves
// every access token.
func (o *oauthState) compileMapping(block string, roles map[string]Role, rolesClaim string, scopeRoles []ScopeRole) error {
	o.rolesClaim = rolesClaim
	o.roles = make(map[string]*compiledRole, len(roles))
	for name, r := range roles {
		cr, err := compileRole(name, r)
		if err != nil {
			return err
		}
		o.roles[name] = cr
	}
	index := map[string]int{}
	for i, sr := range scopeRoles {
		if !validScopeToken(sr.Scope) {
			return fmt.Errorf("%s: scope_roles[%d]: %q is not a valid scope", block, i, sr.Scope)
		}
		if len(sr.Roles) == 0 {
			return fmt.Errorf("%s: scope_roles[%d] (%s): at least one role is required", block, i, sr.Scope)
		}
		j, seen := index[sr.Scope]
		if !seen {
			j = len(o.scopeRoles)
			index[sr.Scope] = j
			o.scopeRoles = append(o.scopeRoles, compiledScopeRole{scope: sr.Scope})
		}
		for _, rn := range sr.Roles {
			cr, ok := o.roles[rn]
			if !ok {
				return fmt.Errorf("%s: scope_roles[%d] (%s): unknown role %q", block, i, sr.Scope, rn)
			}
			o.scopeRoles[j].names = append(o.scopeRoles[j].names, rn)
			o.scopeRoles[j].roles = append(o.scopeRoles[j].roles, cr)
		}
	}
	return nil
}

// provisionKeys sets up the key source: a file read now, or a pooled
// background fetcher.
func (o *oauthState) provisionKeys(c *JWTConfig, repl *caddy.Replacer, logger *zap.Logger, mt *metrics) error {
	switch {
	case c.JWKSFile != "":
		path, err := resolveConfigString(repl, "jwt: jwks_file", c.JWKSFile)
		if err != nil {
			return err
		}
		b, err := readFileLimited(path, maxJWKSBody)
		if err != nil {
			return fmt.Errorf("jwt: jwks_file: %v", err)
		}
		ks, _, err := parseJWKS(b)
		if err != nil {
			return fmt.Errorf("jwt: jwks_file %s: %v", path, err)
		}
		o.keys = staticKeys{ks}
	case len(c.PublicKeys) > 0:
		ks := &keySet{}
		for i, p := range c.PublicKeys {
			path, err := resolveConfigString(repl, fmt.Sprintf("jwt: public_keys[%d]", i), p)
			if err != nil {
				return err
			}
			key, err := readPublicKeyPEM(path)
			if err != nil {
				return fmt.Errorf("jwt: public_keys[%d] %s: %v", i, path, err)
			}
			ks.keys = append(ks.keys, verifyKey{key: key})
		}
		o.keys = staticKeys{ks}
	default:
		url, err := resolveConfigString(repl, "jwt: jwks_url", c.JWKSURL)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return fmt.Errorf("jwt: jwks_url %q is not an http(s) URL", url)
		}
		s := fetcherSettings{
			refetchInterval: durationOr(c.RefetchInterval, defaultRefetchInterval),
			minRefresh:      durationOr(c.MinRefresh, defaultMinRefresh),
			maxRefresh:      durationOr(c.MaxRefresh, defaultMaxRefresh),
		}
		if s.minRefresh > s.maxRefresh {
			return fmt.Errorf("jwt: min_refresh %s is above max_refresh %s", s.minRefresh, s.maxRefresh)
		}
		key := "jwks:" + url
		val, loaded, err := jwksPool.LoadOrNew(key, func() (caddy.Destructor, error) {
			return newJWKSFetcher(url, s, logger), nil
		})
		if err != nil {
			return err
		}
		f := val.(*jwksFetcher)
		f.metrics.Store(mt)
		if loaded {
			// The newest config's settings and logger win; the keys stay.
			f.settings.Store(&s)
			f.logger.Store(logger)
		} else {
			f.start()
		}
		o.poolKey = key
		o.keys = f
	}
	return nil
}

func durationOr(d caddy.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// printable ASCII without space, quote or backslash, so that it can be
// written inside a quoted challenge parameter as it is.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// accessClaims are the claims read from an access token.
type accessClaims struct {
	jwt.Claims
	Scope    any    `json:"scope,omitempty"`
	Scp      any    `json:"scp,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Azp      string `json:"azp,omitempty"`
}

// rejection is why an access token was refused.
type rejection struct {
	status int // 401, or 503 while no key set is available
	reason string
	// wrong marks a credential that no authorization server issued for us
	// (garbage, a forged or tampered signature, an unknown key): it counts
	// towards failed-credential throttling. An expired or otherwise
	// genuine token does not.
	wrong bool
}

func reject(reason string) *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reason}
}

func rejectWrong(reason string) *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reason, wrong: true}
}

// looksLikeJWT reports whether a token has the shape of a compact JWS.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2 && !strings.HasPrefix(tok, ".")
}

// verify checks an access token and returns its principal.
func (o *oauthState) verify(ctx context.Context, tok string) (*principal, *rejection) {
	if len(tok) > maxTokenSize {
		return nil, rejectWrong("the access token is too large")
	}
	if !looksLikeJWT(tok) {
		return nil, rejectWrong("the token is not known")
	}
	now := o.now()
	digest := sha256.Sum256([]byte(tok))
	if p := o.cache.get(digest, now); p != nil {
		return p, nil
	}
	parsed, err := jwt.ParseSigned(tok, o.algs)
	if err != nil {
		return nil, rejectWrong("the access token is malformed or uses an algorithm that is not accepted")
	}
	if len(parsed.Headers) != 1 {
		return nil, rejectWrong("the access token must carry exactly one signature")
	}
	h := parsed.Headers[0]
	// Before any key work: a token of another issuer is refused at once
	// (and never causes a key set fetch).
	var peek struct {
		Issuer string `json:"iss"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&peek); err != nil {
		return nil, reject("the access token's claims are not a JSON object")
	}
	if peek.Issuer != o.issuer {
		return nil, reject("the access token was not issued by the expected issuer")
	}

	ks := o.keys.current()
	cands := ks.candidates(h.KeyID, h.Algorithm)
	if len(cands) == 0 {
		wctx, cancel := context.WithTimeout(ctx, onDemandWait)
		refetched := o.keys.refetch(wctx)
		cancel()
		if refetched {
			ks = o.keys.current()
			cands = ks.candidates(h.KeyID, h.Algorithm)
		}
	}
	if len(cands) == 0 {
		if ks == nil {
			return nil, &rejection{status: http.StatusServiceUnavailable, reason: "the authorization server's signing keys are not available yet"}
		}
		return nil, rejectWrong("the access token is signed with an unknown key")
	}
	if len(cands) > maxCandidates {
		cands = cands[:maxCandidates]
	}
	var claims accessClaims
	var raw map[string]any
	dest := []any{&claims}
	if o.rolesClaim != "" {
		dest = append(dest, &raw)
	}
	verified := false
	for _, k := range cands {
		claims, raw = accessClaims{}, nil
		if err := parsed.Claims(k.key, dest...); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, rejectWrong("the access token's signature is invalid")
	}
	if claims.Expiry == nil {
		return nil, reject("the access token has no exp claim")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: o.issuer, AnyAudience: o.audiences, Time: now}, o.leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return nil, reject("the access token is expired")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, reject("the access token is not meant for this resource (aud)")
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, reject("the access token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, reject("the access token is issued in the future (iat)")
	case err != nil:
		return nil, reject("the access token's claims are invalid")
	}
	if claims.Subject == "" {
		return nil, reject("the access token has no sub claim")
	}

	p := o.principalFor(&claims, raw)
	o.cache.put(digest, p, now)
	return p, nil
}

// principalFor builds the principal of a verified token.
func (o *oauthState) principalFor(c *accessClaims, raw map[string]any) *principal {
	scopes := scopeList(c.Scope)
	if c.Scope == nil {
		scopes = scopeList(c.Scp)
	}
	p := &principal{
		id:       "jwt:" + c.Issuer + "#" + c.Subject,
		name:     c.Subject,
		scopes:   scopes,
		clientID: c.ClientID,
		exp:      c.Expiry.Time(),
	}
	if p.clientID == "" {
		p.clientID = c.Azp
	}
	seen := map[string]bool{}
	add := func(name string, cr *compiledRole) {
		if !seen[name] {
			seen[name] = true
			p.roleNames = append(p.roleNames, name)
			p.roles = append(p.roles, cr)
		}
	}
	if o.rolesClaim != "" {
		for _, rn := range stringList(claimAt(raw, o.rolesClaim)) {
			if cr, ok := o.roles[rn]; ok {
				add(rn, cr)
			}
		}
	}
	have := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		have[s] = true
	}
	for _, sr := range o.scopeRoles {
		if have[sr.scope] {
			for i, rn := range sr.names {
				add(rn, sr.roles[i])
			}
		}
	}
	p.rolesStr = strings.Join(p.roleNames, ",")
	return p
}

// scopeList reads a scope or scp claim: a space-separated string or an
// array of strings. Entries that are not valid scope-tokens are dropped.
// The result is never nil: an OAuth principal has a (maybe empty) scope
// list, a static one has none.
func scopeList(v any) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, s := range stringList(v) {
		if validScopeToken(s) && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// stringList reads a space-separated string or an array of strings.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, strings.Fields(s)...)
			}
		}
		return out
	}
	return nil
}

// claimAt follows a dot path into nested objects. At each level the
// longest key that matches wins, so a claim named with dots (a URL, as
// Auth0 requires for custom claims) is found as well.
func claimAt(obj map[string]any, path string) any {
	if obj == nil {
		return nil
	}
	if v, ok := obj[path]; ok {
		return v
	}
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '.' {
			continue
		}
		if sub, ok := obj[path[:i]].(map[string]any); ok {
			if v := claimAt(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

// stepUp names the scope string to ask for when a denied action would be
// granted by a scope the caller lacks: the caller's scopes plus the first
// such scope in scope_role order. Only OAuth callers get one.
func (o *oauthState) stepUp(p *principal, a Action) (string, bool) {
	if p.scopes == nil {
		return "", false
	}
	have := make(map[string]bool, len(p.scopes))
	for _, s := range p.scopes {
		have[s] = true
	}
	for _, sr := range o.scopeRoles {
		if have[sr.scope] {
			continue
		}
		roles := make([]*compiledRole, 0, len(p.roles)+len(sr.roles))
		roles = append(append(roles, p.roles...), sr.roles...)
		if decide(roles, a).Allowed {
			return strings.Join(append(append(make([]string, 0, len(p.scopes)+1), p.scopes...), sr.scope), " "), true
		}
	}
	return "", false
}

// authenticateJWT checks an access token from the Authorization header
// (with jwt, or introspection: see check) and answers the refusal itself:
// 401 invalid_token, or 503 with Retry-After while no key set has arrived
// or the introspection endpoint cannot answer.
func (m *MCPAuth) authenticateJWT(w http.ResponseWriter, r *http.Request, tok string) (*principal, bool) {
	p, rej := m.oauth.check(r.Context(), tok)
	if rej == nil {
		return p, true
	}
	if rej.status == http.StatusServiceUnavailable {
		o := m.oauth
		now := o.now().Unix()
		if last := o.last503Log.Load(); now-last >= 10 && o.last503Log.CompareAndSwap(last, now) {
			m.logger.Warn("access token refused with 503", zap.String("reason", rej.reason),
				zap.String("remote_ip", remoteHost(r)))
		}
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		m.refuse(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", rej.reason)
		return nil, false
	}
	if rej.wrong {
		m.failedCredential(r)
	}
	w.Header().Set("WWW-Authenticate", m.challenge("invalid_token"))
	m.refuse(w, r, http.StatusUnauthorized, "invalid_token", rej.reason)
	m.auditRefusal(r, nil, "invalid_token")
	if ce := m.logger.Check(zapcore.InfoLevel, "access token refused"); ce != nil {
		ce.Write(zap.String("reason", rej.reason), zap.String("remote_ip", remoteHost(r)))
	}
	return nil, false
}

// oauthChallengeParams are the parameters OAuth adds to a challenge:
// resource_metadata always, scope (challenge_scope) except on a step-up
// answer, which names its own scope.
func (m *MCPAuth) oauthChallengeParams(code string) string {
	if code == "insufficient_scope" {
		return m.challengeParams
	}
	return m.challengeParams + m.challengeScopeParam
}

// tokenCache remembers verified access tokens by the SHA-256 digest of
// the token, never past the token's exp, and at most max of them.
type tokenCache struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]*principal
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[[32]byte]*principal)}
}

func (c *tokenCache) get(d [32]byte, now time.Time) *principal {
	c.mu.RLock()
	p := c.m[d]
	c.mu.RUnlock()
	if p == nil || !now.Before(p.exp) {
		return nil
	}
	return p
}

func (c *tokenCache) put(d [32]byte, p *principal, now time.Time) {
	if !now.Before(p.exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k, v := range c.m {
			if !now.Before(v.exp) {
				delete(c.m, k)
			}
		}
		// Still full: drop about an eighth, chosen by map order (random).
		for k := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[d] = p
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// parseJWTBlock parses `jwt { … }` inside mcp_auth; the dispenser is on
// the subdirective name. Syntax:
//
//	jwt {
//		issuer           <url>                 # required
//		jwks_url         <url>                 # or jwks_file <path>, or public_key <pem file> (repeatable)
//		audience         <aud...>              # required, repeatable
//		algorithms       <alg...>              # default RS256 ES256 EdDSA PS256
//		leeway           <duration>            # default 30s
//		roles_claim      <dot.path>
//		scope_role       <scope> <role...>     # repeatable
//		refetch_interval <duration>            # default 30s
//		min_refresh      <duration>            # default 1m
//		max_refresh      <duration>            # default 24h
//		cache_size       <n>                   # default 10000
//	}
func parseJWTBlock(d *caddyfile.Dispenser, nesting int) (*JWTConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(JWTConfig)
	seen := map[string]bool{}
	for d.NextBlock(nesting + 1) {
		l, err := nextBlockLine(d, nesting, "jwt", seen, "audience", "scope_role", "public_key")
		if err != nil {
			return nil, err
		}
		sub, args, one := l.sub, l.args, l.one
		duration := func() (caddy.Duration, error) { return l.duration("30s", true) }
		switch sub {
		case "issuer":
			if c.Issuer, err = one(); err != nil {
				return nil, err
			}
		case "jwks_url":
			if c.JWKSURL, err = one(); err != nil {
				return nil, err
			}
			if err := checkConfigURL(c.JWKSURL); err != nil {
				return nil, d.Errf("jwt: jwks_url: %v", err)
			}
		case "jwks_file":
			if c.JWKSFile, err = one(); err != nil {
				return nil, err
			}
		case "public_key":
			v, err := one()
			if err != nil {
				return nil, err
			}
			c.PublicKeys = append(c.PublicKeys, v)
		case "audience":
			if len(args) == 0 {
				return nil, d.Errf("jwt: audience: want <aud...>")
			}
			c.Audiences = append(c.Audiences, args...)
		case "algorithms":
			if len(args) == 0 {
				return nil, d.Errf("jwt: algorithms: want <alg...>")
			}
			for _, a := range args {
				if _, ok := allowedAlgorithms[a]; !ok {
					return nil, d.Errf("jwt: algorithms: %q is not allowed (want RS*, PS*, ES* or EdDSA; HMAC and none never are)", a)
				}
			}
			c.Algorithms = args
		case "leeway":
			if c.Leeway, err = duration(); err != nil {
				return nil, err
			}
			if time.Duration(c.Leeway) > maxLeeway {
				return nil, d.Errf("jwt: leeway: at most %s", maxLeeway)
			}
		case "roles_claim":
			if c.RolesClaim, err = one(); err != nil {
				return nil, err
			}
		case "scope_role":
			sr, err := parseScopeRole(d, "jwt", args)
			if err != nil {
				return nil, err
			}
			c.ScopeRoles = append(c.ScopeRoles, sr)
		case "refetch_interval":
			if c.RefetchInterval, err = duration(); err != nil {
				return nil, err
			}
		case "min_refresh":
			if c.MinRefresh, err = duration(); err != nil {
				return nil, err
			}
		case "max_refresh":
			if c.MaxRefresh, err = duration(); err != nil {
				return nil, err
			}
		case "cache_size":
			if c.CacheSize, err = l.positive(); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("unrecognized jwt subdirective '%s'", sub)
		}
	}
	switch {
	case c.Issuer == "":
		return nil, d.Err("jwt: issuer is required")
	case len(c.Audiences) == 0:
		return nil, d.Err("jwt: audience is required")
	}
	sources := 0
	for _, set := range []bool{c.JWKSURL != "", c.JWKSFile != "", len(c.PublicKeys) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, d.Err("jwt: exactly one of jwks_url, jwks_file and public_key is required")
	}
	return c, nil
}

// parseScopeRole reads the arguments of `scope_role <scope> <role...>` in
// the block named block (jwt or introspection).
func parseScopeRole(d *caddyfile.Dispenser, block string, args []string) (ScopeRole, error) {
	if len(args) < 2 {
		return ScopeRole{}, d.Errf("%s: scope_role: want <scope> <role...>, got %d argument(s)", block, len(args))
	}
	if !validScopeToken(args[0]) {
		return ScopeRole{}, d.Errf("%s: scope_role: %q is not a valid scope", block, args[0])
	}
	return ScopeRole{Scope: args[0], Roles: args[1:]}, nil
}

// parseChallengeScope parses `challenge_scope <scope...>`; the dispenser
// is on the subdirective name.
func parseChallengeScope(d *caddyfile.Dispenser) ([]string, error) {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Err("challenge_scope: want <scope...>")
	}
	for _, s := range args {
		if !validScopeToken(s) {
			return nil, d.Errf("challenge_scope: %q is not a valid scope", s)
		}
	}
	return args, nil
}

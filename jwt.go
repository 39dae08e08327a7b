package mcpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/go-jose/go-jose/v4"
	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
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

	// Token types accepted besides at+jwt and application/at+jwt (RFC
	// 9068), as the typ header names them: JWT for Keycloak and Entra ID,
	// which sign their access tokens with typ JWT. Values compare
	// case-insensitively, "application/" prepended to one without a "/"
	// (RFC 7515 §4.1.9). A token without typ is a plain JWT (RFC 7519
	// §5.1): it is accepted only when JWT is listed. Default: none (only
	// RFC 9068 access tokens).
	AcceptTyp []string `json:"accept_typ,omitempty"`
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

// jwtVerifier checks JWT access tokens (RFC 9068).
type jwtVerifier struct {
	issuer    string
	audiences []string
	algs      []jose.SignatureAlgorithm
	leeway    time.Duration
	keys      keySource
	poolKey   string // the jwksPool key held, "" when none
	// typs are the accepted typ values, normalized (typKey); "" stands for
	// a token without typ.
	typs   map[string]bool
	mapper *roleMapper
	cache  *principalCache
	now    func() time.Time
	// shapeOnly: introspection follows, so a token that is not shaped
	// like a JWT is not this verifier's.
	shapeOnly bool
}

// newJWTVerifier compiles the jwt block (checked by validate). It touches
// no network: a key set URL is fetched in the background.
func newJWTVerifier(c *JWTConfig, repl *caddy.Replacer, mapper *roleMapper, cache *principalCache, logger *zap.Logger, mt *metrics) (*jwtVerifier, error) {
	v := &jwtVerifier{mapper: mapper, cache: cache, now: time.Now}
	var err error
	if v.issuer, err = resolveConfigString(repl, "jwt: issuer", c.Issuer); err != nil {
		return nil, err
	}
	if v.issuer == "" {
		return nil, errors.New("jwt: issuer is required")
	}
	if v.audiences, err = resolveAudiences(repl, c.Audiences); err != nil {
		return nil, err
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		v.algs = append(v.algs, allowedAlgorithms[a])
	}
	v.leeway = durationOr(c.Leeway, defaultLeeway)
	v.typs = map[string]bool{typKey("at+jwt"): true}
	for _, t := range c.AcceptTyp {
		v.typs[typKey(t)] = true
		if typKey(t) == typKey("JWT") {
			v.typs[""] = true
		}
	}
	if err := v.provisionKeys(c, repl, logger, mt); err != nil {
		return nil, err
	}
	return v, nil
}

func resolveAudiences(repl *caddy.Replacer, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for i, a := range in {
		a, err := resolveConfigString(repl, fmt.Sprintf("jwt: audiences[%d]", i), a)
		if err != nil {
			return nil, err
		}
		if a == "" {
			return nil, fmt.Errorf("jwt: audiences[%d] is empty", i)
		}
		out = append(out, a)
	}
	return out, nil
}

// close releases the shared key set fetcher.
func (v *jwtVerifier) close() {
	if v.poolKey != "" {
		_, _ = jwksPool.Delete(v.poolKey)
		v.poolKey = ""
	}
}

// provisionKeys sets up the key source: a file read now, or a pooled
// background fetcher.
func (o *jwtVerifier) provisionKeys(c *JWTConfig, repl *caddy.Replacer, logger *zap.Logger, mt *metrics) error {
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

// looksLikeJWT reports whether a token has the shape of a compact JWS.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2 && !strings.HasPrefix(tok, ".")
}

// typKey normalizes a typ value for comparison: media types compare
// case-insensitively, and a value without "/" stands for
// "application/<value>" (RFC 7515 §4.1.9).
func typKey(typ string) string {
	typ = strings.ToLower(typ)
	if !strings.Contains(typ, "/") {
		typ = "application/" + typ
	}
	return typ
}

// typOf returns a token's typ header, normalized: "" when there is none,
// and a value no configuration can name when it is not a string.
func typOf(h jose.Header) (key, shown string) {
	v, ok := h.ExtraHeaders[jose.HeaderType]
	if !ok {
		return "", "none"
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "\x00", "not a media type"
	}
	return typKey(s), wire.Quote(truncate(s))
}

// verify checks an access token and returns its principal. Until the
// signature is verified every refusal counts as a wrong credential (the
// token may be anybody's guess); after it, none does: the authorization
// server issued the token, and a client that presents an expired or
// malformed one is not guessing.
func (o *jwtVerifier) verify(ctx context.Context, tok string, at attempt) (*principal, *rejection) {
	if o.shapeOnly && !looksLikeJWT(tok) {
		return nil, errNotMine
	}
	if len(tok) > maxTokenSize {
		return nil, rejectWrong("the access token is too large")
	}
	if !looksLikeJWT(tok) {
		return nil, rejectWrong("the token is not known")
	}
	now := o.now()
	digest := at.digestOf(tok)
	if p := o.cache.get(digest, now); p != nil {
		return p, nil
	}
	sig, err := jose.ParseSignedCompact(tok, o.algs)
	if err != nil {
		return nil, rejectWrong("the access token is malformed or uses an algorithm that is not accepted")
	}
	if len(sig.Signatures) != 1 {
		return nil, rejectWrong("the access token must carry exactly one signature")
	}
	// (go-jose refuses a header that names a key twice.)
	h := sig.Signatures[0].Header
	// Before any key work: a token of another issuer is refused at once
	// (and never causes a key set fetch).
	var peek struct {
		Issuer string `json:"iss"`
	}
	if err := josejson.Unmarshal(sig.UnsafePayloadWithoutVerification(), &peek); err != nil {
		// Claims that name a key twice may yet be the issuer's (a genuine
		// token, malformed): they are refused after the signature.
		var dup *duplicateKeyError
		if !errors.As(uniqueKeys(sig.UnsafePayloadWithoutVerification()), &dup) {
			return nil, rejectWrong("the access token's claims are not a JSON object")
		}
	} else if peek.Issuer != o.issuer {
		return nil, rejectWrong("the access token was not issued by the expected issuer")
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
	var payload []byte
	for _, k := range cands {
		if b, err := sig.Verify(k.key); err == nil {
			payload = b
			break
		}
	}
	if payload == nil {
		return nil, rejectWrong("the access token's signature is invalid")
	}

	// The signature holds: nothing below counts as a wrong credential.
	if key, shown := typOf(h); !o.typs[key] {
		return nil, reject("the access token's typ (" + shown + ") is not accepted: access tokens have typ at+jwt (RFC 9068); accept_typ names others")
	}
	if err := uniqueKeys(payload); err != nil {
		return nil, rejectMalformed("the access token's claims are malformed: " + err.Error())
	}
	var claims accessClaims
	if err := josejson.Unmarshal(payload, &claims); err != nil {
		if errors.Is(err, jwt.ErrUnmarshalNumericDate) {
			return nil, rejectMalformed("the access token's exp, nbf or iat is not a NumericDate")
		}
		return nil, rejectMalformed("the access token's claims are malformed (a registered claim has the wrong type)")
	}
	var raw map[string]any
	if o.mapper.rolesClaim != "" {
		if err := josejson.Unmarshal(payload, &raw); err != nil {
			return nil, rejectMalformed("the access token's claims are malformed")
		}
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

	p := o.mapper.principalFor(userPrincipalID(claims.Issuer, claims.Subject), &claims, raw)
	o.cache.put(digest, p, p.exp, now)
	return p, nil
}

// scopeList reads a scope or scp claim: a string of scopes separated by
// spaces, or an array of strings, each one scope (RFC 6749 §3.3, RFC 9068
// §2.2.3). Entries that are not valid scope-tokens are dropped: an array
// element "mcp:read mcp:admin" is one invalid scope, not two. The result
// is never nil: an OAuth principal has a (maybe empty) scope list, a
// static one has none.
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

// stringList reads a claim that lists names: a string of names separated
// by ASCII spaces (U+0020 only: no tab, NBSP or line separator splits a
// name), or an array whose string elements are names taken whole.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		var out []string
		for _, s := range strings.Split(x, " ") {
			if s != "" {
				out = append(out, s)
			}
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
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

// uniqueKeys checks that b is one JSON object in which no object, at any
// depth, names a key twice (after unescaping: "a" and "\u0061" are the
// same key). Decoders disagree on which of two values wins (Go's
// encoding/json and go-jose take the last, others the first), so a token
// or an introspection answer that says two things is refused rather than
// read one way. It walks the tokens of encoding/json's decoder, which
// checks the syntax.
func uniqueKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		keys    map[string]struct{} // nil for an array
		keyNext bool                // in an object: a key comes next
	}
	var stack []frame
	for {
		t, err := dec.Token()
		switch {
		case err == io.EOF && len(stack) == 0:
			return errors.New("not a JSON object")
		case err != nil:
			return errors.New("not JSON")
		}
		n := len(stack)
		if d, ok := t.(json.Delim); ok && (d == '}' || d == ']') {
			if stack = stack[:n-1]; len(stack) > 0 {
				continue
			}
			// The object is complete: nothing may follow it.
			if _, err := dec.Token(); err != io.EOF {
				return errors.New("data after the JSON object")
			}
			return nil
		}
		if n > 0 && stack[n-1].keys != nil && stack[n-1].keyNext {
			k := t.(string) // the decoder allows nothing else here
			if _, dup := stack[n-1].keys[k]; dup {
				return &duplicateKeyError{k}
			}
			stack[n-1].keys[k] = struct{}{}
			stack[n-1].keyNext = false
			continue
		}
		// t begins a value.
		if n == 0 && t != json.Delim('{') {
			return errors.New("not a JSON object")
		}
		if n > 0 && stack[n-1].keys != nil {
			stack[n-1].keyNext = true
		}
		switch t {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]struct{}{}, keyNext: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		}
	}
}

// duplicateKeyError names a key that appears twice in one object.
type duplicateKeyError struct{ key string }

func (e *duplicateKeyError) Error() string {
	return "the key " + wire.Quote(truncate(e.key)) + " appears twice"
}

// checkAcceptTyp checks the accept_typ values: each one a media type
// name, printable ASCII without spaces or quotes.
func checkAcceptTyp(typs []string) error {
	for i, t := range typs {
		if !validScopeToken(t) {
			return fmt.Errorf("jwt: accept_typ[%d] %s is not a media type such as JWT", i, wire.Quote(truncate(t)))
		}
	}
	return nil
}

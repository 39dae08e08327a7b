package mcpauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.uber.org/zap"
)

// IntrospectionConfig makes mcp_auth accept opaque OAuth 2.1 access
// tokens: each one is checked with the authorization server's token
// introspection endpoint (RFC 7662), and the answer is cached. It works
// alone or next to jwt: a token shaped like a JWT goes to jwt when jwt is
// configured, every other bearer token (that is not a static token) to
// introspection.
//
// An active answer is accepted when its aud names an accepted audience
// (the jwt audiences, or without jwt the resource_metadata resource; an
// answer without aud is refused, as the MCP spec requires the audience to
// be validated); its iss, if present, is the jwt issuer or,
// without jwt, one of resource_metadata's authorization_servers; its exp,
// if present, is not past (with 30s leeway), and so is its nbf; its
// token_type, if present, is Bearer; and it has no cnf (a sender-
// constrained token, which this handler cannot check). The caller is
// named by sub or, for a client-credentials token without sub, by
// client_id; its principal is "jwt:<iss>#<sub>" as for a JWT of the same
// issuer (the answer's iss, else the jwt issuer, else the first
// authorization server), so one user is one principal either way.
//
// Roles are mapped exactly as for JWTs (roles_claim reads the
// introspection answer). There is one mapping per handler: with a jwt
// block it lives in jwt and serves introspected tokens too; without one,
// write roles_claim and scope_role here.
type IntrospectionConfig struct {
	// The authorization server's introspection endpoint, such as
	// https://auth.example.com/token/introspect. Required.
	URL string `json:"url,omitempty"`

	// The client id this handler authenticates with at the endpoint
	// (client_secret_basic: HTTP Basic, both parts form-encoded as RFC
	// 6749 §2.3.1 says). Required.
	ClientID string `json:"client_id,omitempty"`

	// The client secret, usually an {env.*} or {file.*} placeholder
	// resolved when the config is loaded (the Caddyfile accepts nothing
	// else, so the secret never appears in adapted JSON, the admin API or
	// autosave). Never logged. Required.
	ClientSecret string `json:"client_secret,omitempty"`

	// How long one introspection request may take, connection included;
	// a slower answer is treated as the server being down (503). At most
	// 1m. Default: 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// The most introspection answers remembered, least recently used
	// first out. Default: 10000.
	CacheSize int `json:"cache_size,omitempty"`

	// How long an active answer is reused: never past the token's exp,
	// and never longer than this, so that a revoked token is refused
	// within this time. An answer without exp is reused this long, and a
	// GET stream opened with such a token ends after it (the client
	// reconnects and is checked anew). Default: 1m.
	MaxCacheTTL caddy.Duration `json:"max_cache_ttl,omitempty"`

	// As jwt's roles_claim, read from the introspection answer. Only
	// without a jwt block. Default: none.
	RolesClaim string `json:"roles_claim,omitempty"`

	// As jwt's scope_roles. Only without a jwt block.
	ScopeRoles []ScopeRole `json:"scope_roles,omitempty"`
}

// Limits and defaults of introspection.
const (
	defaultIntrospectionTimeout = 5 * time.Second
	maxIntrospectionTimeout     = time.Minute
	defaultMaxCacheTTL          = time.Minute
	// maxIntrospectionBody bounds the answer read; real ones are a few
	// hundred bytes.
	maxIntrospectionBody = 64 << 10
	// introspectionWarnEvery spaces the WARN entries about a failing
	// authorization server.
	introspectionWarnEvery = 10
)

// introspector is the provisioned introspection client.
type introspector struct {
	url       string
	basicAuth string // "Basic …": holds the client secret, never logged
	client    *http.Client
	maxTTL    time.Duration
	issuers   []string // accepted iss values
	issuer    string   // the principal's issuer when the answer has none
	cache     *introCache
	ctx       context.Context // ended by Cleanup: aborts requests under way
	cancel    context.CancelFunc

	mu       sync.Mutex
	inflight map[[32]byte]*introCall

	calls    atomic.Int64 // requests sent, for tests
	lastWarn atomic.Int64
}

// introCall is an introspection request under way; concurrent requests
// with the same token wait for it instead of sending their own.
type introCall struct {
	done chan struct{}
	p    *principal
	rej  *rejection
}

// compileIntrospection checks the introspection block; o is the jwt state
// or nil. Without jwt it builds the OAuth state, with the role mapping of
// the introspection block. It touches no network.
func (m *MCPAuth) compileIntrospection(repl *caddy.Replacer, o *oauthState) (*oauthState, error) {
	c := m.Introspection
	if o == nil {
		o = &oauthState{now: time.Now, leeway: defaultLeeway}
		if err := o.compileMapping("introspection", m.Roles, c.RolesClaim, c.ScopeRoles); err != nil {
			return nil, err
		}
		if m.ResourceMetadata == nil || m.ResourceMetadata.Resource == "" || len(m.ResourceMetadata.AuthorizationServers) == 0 {
			return nil, errors.New("introspection: without jwt, resource_metadata with resource and authorization_servers is required (the resource is the audience introspected tokens must name, and clients learn from it where to get tokens)")
		}
	} else if c.RolesClaim != "" || len(c.ScopeRoles) > 0 {
		return nil, errors.New("introspection: roles_claim and scope_role belong in the jwt block when there is one (one mapping serves both kinds of access token)")
	}

	in := &introspector{inflight: map[[32]byte]*introCall{}}
	u, err := resolveConfigString(repl, "introspection: url", c.URL)
	if err != nil {
		return nil, err
	}
	if err := checkIntrospectionURL(u); err != nil {
		return nil, fmt.Errorf("introspection: url: %v", err)
	}
	in.url = u
	id, err := resolveConfigString(repl, "introspection: client_id", c.ClientID)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errors.New("introspection: client_id is required")
	}
	if c.ClientSecret == "" {
		return nil, errors.New("introspection: client_secret is required")
	}
	secret := c.ClientSecret
	if isRuntimeSecret(secret) {
		if secret, err = repl.ReplaceOrErr(secret, true, true); err != nil {
			// The error names the placeholder, never its value.
			return nil, fmt.Errorf("introspection: client_secret %s: %v", c.ClientSecret, err)
		}
	}
	if secret == "" {
		return nil, fmt.Errorf("introspection: client_secret %s is empty", placeholderOnly(c.ClientSecret))
	}
	in.basicAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))

	timeout := durationOr(c.Timeout, defaultIntrospectionTimeout)
	if timeout < 0 || timeout > maxIntrospectionTimeout {
		return nil, fmt.Errorf("introspection: timeout %s is outside 0..%s", timeout, maxIntrospectionTimeout)
	}
	if c.MaxCacheTTL < 0 {
		return nil, errors.New("introspection: max_cache_ttl is negative")
	}
	in.maxTTL = durationOr(c.MaxCacheTTL, defaultMaxCacheTTL)
	if c.CacheSize < 0 {
		return nil, fmt.Errorf("introspection: cache_size %d is negative", c.CacheSize)
	}
	size := c.CacheSize
	if size == 0 {
		size = defaultCacheSize
	}
	in.cache = newIntroCache(size)
	in.client = &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
		},
		Timeout: timeout,
		// A redirect is a misconfigured url: it is not followed (and the
		// credentials never go anywhere else).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if pu, _ := url.Parse(u); pu.Scheme == "http" && !isLoopbackHost(pu.Hostname()) {
		m.logger.Warn("introspection url is plain http: the client secret and access tokens cross the network unencrypted",
			zap.String("url", u))
	}
	o.intro = in
	return o, nil
}

// finishIntrospection sets what depends on the resolved metadata: the
// accepted audiences and issuers. It cannot fail.
func (o *oauthState) finishIntrospection(md ResourceMetadata) {
	in := o.intro
	if len(o.audiences) == 0 {
		o.audiences = []string{md.Resource}
	}
	if o.issuer != "" {
		in.issuers = []string{o.issuer}
	} else {
		in.issuers = md.AuthorizationServers
	}
	in.issuer = in.issuers[0]
	in.ctx, in.cancel = context.WithCancel(context.Background())
}

// close aborts the requests under way and drops idle connections.
func (in *introspector) close() {
	if in.cancel != nil {
		in.cancel()
	}
	in.client.CloseIdleConnections()
}

func checkIntrospectionURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q is not an http(s) URL", s)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q must not hold user info (use client_id and client_secret)", u.Redacted())
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q must not have a fragment", s)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// check authenticates an access token: a JWT-shaped one with jwt when jwt
// is configured, any other with introspection when that is.
func (o *oauthState) check(ctx context.Context, tok string) (*principal, *rejection) {
	if o.intro == nil || (o.keys != nil && looksLikeJWT(tok)) {
		return o.verify(ctx, tok)
	}
	return o.introspect(ctx, tok)
}

// unavailable is the rejection while the authorization server cannot
// answer: 503, never counted towards throttling.
func unavailable() *rejection {
	return &rejection{status: http.StatusServiceUnavailable, reason: "the authorization server could not check the access token; retry later"}
}

// introspect checks an opaque access token: from the cache, or by one
// request to the endpoint shared by concurrent callers with that token.
func (o *oauthState) introspect(ctx context.Context, tok string) (*principal, *rejection) {
	if len(tok) > maxTokenSize {
		return nil, rejectWrong("the access token is too large")
	}
	in := o.intro
	digest := sha256.Sum256([]byte(tok))
	if p := in.cache.get(digest, o.now()); p != nil {
		return p, nil
	}
	in.mu.Lock()
	if c, ok := in.inflight[digest]; ok {
		in.mu.Unlock()
		select {
		case <-c.done:
			return c.p, c.rej
		case <-ctx.Done():
			return nil, unavailable()
		}
	}
	c := &introCall{done: make(chan struct{})}
	in.inflight[digest] = c
	in.mu.Unlock()

	c.p, c.rej = o.introspectOnce(tok)
	if c.p != nil {
		in.cache.put(digest, c.p, o.cacheUntil(c.p), o.now())
	}
	in.mu.Lock()
	delete(in.inflight, digest)
	in.mu.Unlock()
	close(c.done)
	return c.p, c.rej
}

// cacheUntil is when a cached answer must be asked again: the token's
// exp, or max_cache_ttl from now, whichever comes first.
func (o *oauthState) cacheUntil(p *principal) time.Time {
	until := o.now().Add(o.intro.maxTTL)
	if p.exp.Before(until) {
		return p.exp
	}
	return until
}

// warn logs a failure of the authorization server, at most once per
// introspectionWarnEvery seconds. The fields never hold a token or the
// client secret.
func (o *oauthState) warn(msg string, fields ...zap.Field) {
	in := o.intro
	now := o.now().Unix()
	if last := in.lastWarn.Load(); now-last >= introspectionWarnEvery && in.lastWarn.CompareAndSwap(last, now) {
		o.logger.Warn(msg, append(fields, zap.String("url", in.url))...)
	}
}

// introspectOnce asks the endpoint about a token and judges the answer.
func (o *oauthState) introspectOnce(tok string) (*principal, *rejection) {
	in := o.intro
	ctx, cancel := context.WithTimeout(in.ctx, in.client.Timeout)
	defer cancel()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form))
	if err != nil {
		return nil, unavailable()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.basicAuth)
	in.calls.Add(1)
	resp, err := in.client.Do(req)
	if err != nil {
		// A *url.Error names the method, the url (which holds no
		// credentials) and the cause; never the body.
		o.warn("token introspection failed: access tokens get 503", zap.Error(err))
		return nil, unavailable()
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		o.warn("token introspection failed: access tokens get 503", zap.Int("status", resp.StatusCode))
		return nil, unavailable()
	case resp.StatusCode != http.StatusOK:
		// 400/401/403: usually wrong client credentials, or a url that is
		// not an introspection endpoint.
		o.warn("the authorization server refused the introspection request (check url, client_id and client_secret): access tokens get 401",
			zap.Int("status", resp.StatusCode))
		return nil, reject("the authorization server did not confirm the access token")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil {
		o.warn("token introspection failed: access tokens get 503", zap.Error(err))
		return nil, unavailable()
	}
	if len(body) > maxIntrospectionBody {
		o.warn("the introspection answer is too large: access tokens get 503", zap.Int("limit", maxIntrospectionBody))
		return nil, unavailable()
	}
	p, rej, garbled := o.judgeIntrospection(body)
	if garbled != "" {
		o.warn("the introspection answer is malformed: access tokens get 503", zap.String("problem", garbled))
		return nil, unavailable()
	}
	return p, rej
}

// judgeIntrospection reads an introspection answer. garbled names what is
// wrong with an answer that is not RFC 7662 JSON.
func (o *oauthState) judgeIntrospection(body []byte) (p *principal, rej *rejection, garbled string) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, nil, "not a JSON object"
	}
	active, ok := raw["active"].(bool)
	if !ok {
		return nil, nil, "active is missing or not a boolean"
	}
	if !active {
		// Unknown, revoked or expired: RFC 7662 does not say which, so it
		// counts as a wrong credential.
		return nil, rejectWrong("the access token is not active"), ""
	}
	str := func(k string) (string, bool) {
		v, present := raw[k]
		if !present || v == nil {
			return "", true
		}
		s, ok := v.(string)
		return s, ok
	}
	date := func(k string) (time.Time, bool, bool) {
		v, present := raw[k]
		if !present || v == nil {
			return time.Time{}, false, true
		}
		f, ok := v.(float64)
		if !ok {
			return time.Time{}, false, false
		}
		return time.Unix(int64(f), 0), true, true
	}
	iss, ok1 := str("iss")
	sub, ok2 := str("sub")
	clientID, ok3 := str("client_id")
	tokenType, ok4 := str("token_type")
	exp, hasExp, ok5 := date("exp")
	nbf, hasNbf, ok6 := date("nbf")
	aud, ok7 := audienceList(raw["aud"])
	for i, ok := range []bool{ok1, ok2, ok3, ok4, ok5, ok6, ok7} {
		if !ok {
			return nil, nil, []string{"iss", "sub", "client_id", "token_type", "exp", "nbf", "aud"}[i] + " has the wrong type"
		}
	}

	now := o.now()
	if tokenType != "" && !strings.EqualFold(tokenType, "bearer") {
		return nil, reject("the access token is not a bearer token (token_type " + quote(tokenType) + ")"), ""
	}
	if _, ok := raw["cnf"]; ok {
		return nil, reject("the access token is sender-constrained (cnf), which this resource cannot check"), ""
	}
	if iss != "" {
		found := false
		for _, want := range o.intro.issuers {
			found = found || iss == want
		}
		if !found {
			return nil, reject("the access token was not issued by the expected issuer"), ""
		}
	} else {
		iss = o.intro.issuer
	}
	// The audience is required: the MCP authorization spec makes its
	// validation a MUST, and an answer without aud could be for a token
	// issued for another API (or a refresh token).
	found := false
	for _, a := range aud {
		for _, want := range o.audiences {
			found = found || a == want
		}
	}
	if !found {
		return nil, reject("the access token is not meant for this resource (aud)"), ""
	}
	if hasExp && !now.Before(exp.Add(o.leeway)) {
		return nil, reject("the access token is expired"), ""
	}
	if hasNbf && now.Add(o.leeway).Before(nbf) {
		return nil, reject("the access token is not valid yet (nbf)"), ""
	}
	if sub == "" {
		// A client-credentials token names no user: RFC 9068 makes its sub
		// the client id, so the same client is the same principal whether
		// its token is a JWT or opaque.
		sub = clientID
	}
	if sub == "" {
		return nil, reject("the introspection answer names no sub or client_id"), ""
	}
	if !hasExp {
		exp = now.Add(o.intro.maxTTL)
	}
	claims := accessClaims{
		Claims:   jwt.Claims{Issuer: iss, Subject: sub, Expiry: jwt.NewNumericDate(exp)},
		Scope:    raw["scope"],
		Scp:      raw["scp"],
		ClientID: clientID,
	}
	return o.principalFor(&claims, raw), nil, ""
}

// audienceList reads aud: nil when absent, else its values (a string or an
// array of strings); ok is false for any other shape.
func audienceList(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// introCache remembers active introspection answers by the SHA-256 of the
// token, each until its own deadline, at most max of them (least recently
// used out first).
type introCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[[32]byte, introEntry]
}

type introEntry struct {
	p     *principal
	until time.Time
}

func newIntroCache(size int) *introCache {
	l, _ := simplelru.NewLRU[[32]byte, introEntry](size, nil)
	return &introCache{lru: l}
}

func (c *introCache) get(d [32]byte, now time.Time) *principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(d)
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		c.lru.Remove(d)
		return nil
	}
	return e.p
}

func (c *introCache) put(d [32]byte, p *principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(d, introEntry{p, until})
}

func (c *introCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// parseIntrospectionBlock parses `introspection { … }` inside mcp_auth;
// the dispenser is on the subdirective name. Syntax:
//
//	introspection {
//		url           <url>                  # required: the RFC 7662 endpoint
//		client_id     <id>                   # required
//		client_secret {env.VAR}|{file.path}  # required; a literal is refused
//		timeout       <duration>             # default 5s
//		cache_size    <n>                    # default 10000
//		max_cache_ttl <duration>             # default 1m
//		roles_claim   <dot.path>             # only without jwt
//		scope_role    <scope> <role...>      # only without jwt; repeatable
//	}
func parseIntrospectionBlock(d *caddyfile.Dispenser, nesting int) (*IntrospectionConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(IntrospectionConfig)
	seen := map[string]bool{}
	for d.NextBlock(nesting + 1) {
		l, err := nextBlockLine(d, nesting, "introspection", seen, "scope_role")
		if err != nil {
			return nil, err
		}
		sub, args, one := l.sub, l.args, l.one
		duration := func() (caddy.Duration, error) { return l.duration("5s", false) }
		switch sub {
		case "url":
			if c.URL, err = one(); err != nil {
				return nil, err
			}
			if !strings.Contains(c.URL, "{") {
				if err := checkIntrospectionURL(c.URL); err != nil {
					return nil, d.Errf("introspection: url: %v", err)
				}
			}
		case "client_id":
			if c.ClientID, err = one(); err != nil {
				return nil, err
			}
		case "client_secret":
			if len(args) != 1 {
				// Never echo the arguments: one of them may be the secret.
				return nil, d.Errf("introspection: client_secret: want exactly one value, got %d", len(args))
			}
			if !isRuntimeSecret(args[0]) {
				return nil, d.Err("introspection: client_secret: use an {env.*} or {file.*} placeholder, so the secret stays out of the JSON config")
			}
			c.ClientSecret = args[0]
		case "timeout":
			if c.Timeout, err = duration(); err != nil {
				return nil, err
			}
			if time.Duration(c.Timeout) > maxIntrospectionTimeout {
				return nil, d.Errf("introspection: timeout: at most %s", maxIntrospectionTimeout)
			}
		case "max_cache_ttl":
			if c.MaxCacheTTL, err = duration(); err != nil {
				return nil, err
			}
		case "cache_size":
			if c.CacheSize, err = l.positive(); err != nil {
				return nil, err
			}
		case "roles_claim":
			if c.RolesClaim, err = one(); err != nil {
				return nil, err
			}
		case "scope_role":
			sr, err := parseScopeRole(d, "introspection", args)
			if err != nil {
				return nil, err
			}
			c.ScopeRoles = append(c.ScopeRoles, sr)
		default:
			return nil, d.Errf("unrecognized introspection subdirective '%s'", sub)
		}
	}
	switch {
	case c.URL == "":
		return nil, d.Err("introspection: url is required")
	case c.ClientID == "":
		return nil, d.Err("introspection: client_id is required")
	case c.ClientSecret == "":
		return nil, d.Err("introspection: client_secret is required")
	}
	return c, nil
}

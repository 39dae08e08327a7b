package mcpauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2"
	"github.com/go-jose/go-jose/v4/jwt"
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
// named by sub: its principal is "jwt:<iss>#<sub>" as for a JWT of the
// same issuer (the answer's iss, else the jwt issuer, else the first
// authorization server), so one user is one principal either way. A
// client-credentials token without sub is its client_id, in a namespace
// of its own: "jwt:<iss>#client:<client_id>", never a user's.
//
// An answer that is not one JSON object, names a key twice (at any
// depth) or gives a member the wrong type is refused with 503, and logged.
//
// Introspection cannot be flooded: at most max_concurrent requests are
// under way at once, at most max_concurrent_per_client for one client
// (its throttle group), and a token sent to the endpoint is charged to
// its client's failed-credential budget when it is sent (refunded unless
// the answer says the token is not active). While the endpoint answers
// 429 or 5xx, or cannot be reached, it is left alone for a while (its
// Retry-After, else 1s doubling up to 30s) and access tokens that are not
// cached get 503 at once.
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
	// within this time. A GET stream opened with an introspected token is
	// checked again when its answer's time is up, and ends when the token
	// is no longer active or the endpoint cannot answer. Default: 1m.
	MaxCacheTTL caddy.Duration `json:"max_cache_ttl,omitempty"`

	// The most introspection requests under way at once; a token that
	// would need one more gets 503 with Retry-After. The transport opens at
	// most this many connections to the endpoint. Default: 64.
	MaxConcurrent int `json:"max_concurrent,omitempty"`

	// The most introspection requests under way at once for one client
	// (its throttle group: an IPv4 address or an IPv6 /64). Default: 8.
	MaxConcurrentPerClient int `json:"max_concurrent_per_client,omitempty"`

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
	defaultMaxConcurrent   = 64
	defaultMaxPerClient    = 8
	// The backoff while the endpoint answers 429 or 5xx or cannot be
	// reached: its Retry-After (at most maxBackoffWait), else first,
	// doubling up to max.
	firstBackoff   = time.Second
	maxBackoff     = 30 * time.Second
	maxBackoffWait = 5 * time.Minute
	// maxIntrospectionHeader bounds the answer's header.
	maxIntrospectionHeader = 64 << 10
)

// introspector checks opaque access tokens with the authorization
// server's introspection endpoint.
type introspector struct {
	url       string
	basicAuth string // "Basic …": holds the client secret, never logged
	client    *http.Client
	maxTTL    time.Duration
	audiences []string // accepted aud values
	issuers   []string // accepted iss values
	issuer    string   // the principal's issuer when the answer has none
	leeway    time.Duration
	mapper    *roleMapper
	cache     *principalCache
	now       func() time.Time
	logger    *zap.Logger
	ctx       context.Context // ended by Cleanup: aborts requests under way
	cancel    context.CancelFunc

	// slots holds one value per request under way: max_concurrent.
	slots     chan struct{}
	perClient int

	mu       sync.Mutex
	inflight map[[32]byte]*introCall
	clients  map[netip.Prefix]int // requests under way per client group
	back     backoff

	lastWarn atomic.Int64
}

// introCall is an introspection request under way; concurrent requests
// with the same token wait for it instead of sending their own.
type introCall struct {
	done chan struct{}
	p    *principal
	rej  *rejection
}

// authority is what a GET stream opened with an introspected token needs
// to check the token again: the introspector and when its answer's cache
// entry ends. token is set only on the copy made for one GET request (see
// forStream), never on a cached principal; it is never logged.
type authority struct {
	in    *introspector
	until time.Time
	token string
}

// forStream returns a copy of an introspected token's principal that
// carries the token, so that the GET stream it opens can be re-checked.
func (p *principal) forStream(tok string) *principal {
	cp := *p
	a := *p.authority
	a.token = tok
	cp.authority = &a
	return &cp
}

// backoff is the introspector's state while the endpoint answers 429 or
// 5xx or cannot be reached: until a deadline nothing is sent, then one
// request probes. Guarded by the introspector's mu.
type backoff struct {
	failures int
	until    time.Time
	probing  bool
}

// wait is how long nothing may be sent; 0 when a request may go.
func (b *backoff) wait(now time.Time) time.Duration {
	switch {
	case b.failures == 0:
		return 0
	case now.Before(b.until):
		return b.until.Sub(now)
	case b.probing:
		return firstBackoff
	}
	return 0
}

// send records that a request goes: after a backoff, it is the probe.
func (b *backoff) send() {
	if b.failures > 0 {
		b.probing = true
	}
}

// result records how a request ended: overloaded (429, 5xx, unreachable)
// extends the backoff by the server's Retry-After or the next doubling.
func (b *backoff) result(overloaded bool, retryAfter time.Duration, now time.Time) {
	b.probing = false
	if !overloaded {
		b.failures = 0
		return
	}
	b.failures++
	d := retryAfter
	if d <= 0 {
		d = min(firstBackoff<<min(b.failures-1, 10), maxBackoff)
	}
	b.until = now.Add(min(d, maxBackoffWait))
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(maxBackoffWait/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// seconds is a Retry-After value: d rounded up to whole seconds, at
// least 1.
func seconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// newIntrospector compiles the introspection block (checked by
// validate). It touches no network.
func newIntrospector(c *IntrospectionConfig, repl *caddy.Replacer, mapper *roleMapper, cache *principalCache, logger *zap.Logger) (*introspector, error) {
	in := &introspector{inflight: map[[32]byte]*introCall{}, clients: map[netip.Prefix]int{}, mapper: mapper, cache: cache,
		now: time.Now, leeway: defaultLeeway, logger: logger}
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
	in.maxTTL = durationOr(c.MaxCacheTTL, defaultMaxCacheTTL)
	concurrent := c.MaxConcurrent
	if concurrent <= 0 {
		concurrent = defaultMaxConcurrent
	}
	in.slots = make(chan struct{}, concurrent)
	if in.perClient = c.MaxConcurrentPerClient; in.perClient <= 0 {
		in.perClient = defaultMaxPerClient
	}
	in.client = &http.Client{
		Transport: &http.Transport{
			Proxy:             http.ProxyFromEnvironment,
			DialContext:       (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2: true,
			// The slots bound the requests under way; these bound the
			// sockets and what one answer may make us read.
			MaxConnsPerHost:        concurrent,
			MaxIdleConns:           concurrent,
			MaxIdleConnsPerHost:    concurrent,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: maxIntrospectionHeader,
		},
		Timeout: timeout,
		// A redirect is a misconfigured url: it is not followed (and the
		// credentials never go anywhere else).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if pu, _ := url.Parse(u); pu.Scheme == "http" && !isLoopbackHost(pu.Hostname()) {
		logger.Warn("introspection url is plain http: the client secret and access tokens cross the network unencrypted",
			zap.String("url", u))
	}
	return in, nil
}

// finish sets what depends on the resolved metadata: the accepted
// audiences (the jwt audiences, or else the resource) and issuers (the jwt
// issuer, or else the authorization servers). It cannot fail.
func (in *introspector) finish(jwtAudiences []string, jwtIssuer string, md ResourceMetadata) {
	in.audiences = jwtAudiences
	if len(in.audiences) == 0 {
		in.audiences = []string{md.Resource}
	}
	if jwtIssuer != "" {
		in.issuers = []string{jwtIssuer}
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

// unavailable is the rejection while the authorization server cannot
// answer: 503, never counted towards throttling.
func unavailable() *rejection {
	return &rejection{status: http.StatusServiceUnavailable, reason: "the authorization server could not check the access token; retry later"}
}

// unavailableFor is the 503 of a request that may not be sent now.
func unavailableFor(d time.Duration, reason string) *rejection {
	return &rejection{status: http.StatusServiceUnavailable, reason: reason, retryAfter: seconds(d)}
}

// verify checks an opaque access token: from the cache, or by one
// request to the endpoint shared by concurrent callers with that token.
func (in *introspector) verify(ctx context.Context, tok string, at attempt) (*principal, *rejection) {
	if len(tok) > maxTokenSize {
		return nil, rejectWrong("the access token is too large")
	}
	digest := at.digestOf(tok)
	if p := in.cache.get(digest, in.now()); p != nil {
		return p, nil
	}
	return in.ask(ctx, digest, tok, at, false)
}

// recheck asks again about the token of a GET stream whose answer's time
// is up. It is not charged to any client nor bound per client, and waits
// for a free slot at most the timeout; it returns nil when the stream must
// end: the token is not active, or the endpoint cannot tell (fail
// closed).
func (in *introspector) recheck(tok string) *principal {
	digest := digestOf(tok)
	if p := in.cache.get(digest, in.now()); p != nil {
		return p
	}
	p, _ := in.ask(in.ctx, digest, tok, attempt{}, true)
	return p
}

// ask sends one introspection request, or waits for the one under way
// with the same token. Under the lock, in this order: the backoff, the
// client's bound, the instance's bound and the client's budget may each
// refuse (503, or 429 for the budget) before anything is sent.
func (in *introspector) ask(ctx context.Context, digest [32]byte, tok string, at attempt, recheck bool) (*principal, *rejection) {
	slot := false
	if recheck {
		// A stream's re-check waits for a slot rather than failing at once.
		t := time.NewTimer(in.client.Timeout)
		select {
		case in.slots <- struct{}{}:
			slot = true
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if !slot {
			return nil, unavailable()
		}
	}
	release := func() {
		if slot {
			<-in.slots
		}
	}
	in.mu.Lock()
	if c, ok := in.inflight[digest]; ok {
		in.mu.Unlock()
		release()
		select {
		case <-c.done:
			return c.p, c.rej
		case <-ctx.Done():
			return nil, unavailable()
		}
	}
	now := in.now()
	if d := in.back.wait(now); d > 0 {
		in.mu.Unlock()
		release()
		return nil, unavailableFor(d, "the authorization server is overloaded or unreachable; retry later")
	}
	group := at.group
	if !recheck && in.clients[group] >= in.perClient {
		in.mu.Unlock()
		return nil, unavailableFor(firstBackoff, "too many access tokens from this client are being checked at once; retry later")
	}
	if !slot {
		select {
		case in.slots <- struct{}{}:
			slot = true
		default:
			in.mu.Unlock()
			return nil, unavailableFor(firstBackoff, "too many access tokens are being checked at once; retry later")
		}
	}
	var receipt *throttleReceipt
	if at.throttle != nil {
		var left time.Duration
		var ok bool
		if receipt, left, ok = at.throttle.charge(group); !ok {
			in.mu.Unlock()
			release()
			return nil, &rejection{status: http.StatusTooManyRequests, reason: "too many wrong credentials", retryAfter: seconds(left)}
		}
	}
	in.back.send()
	c := &introCall{done: make(chan struct{})}
	in.inflight[digest] = c
	if !recheck {
		in.clients[group]++
	}
	in.mu.Unlock()

	p, rej, o := in.introspectOnce(tok)
	if p != nil {
		until := in.cacheUntil(p)
		p.authority = &authority{in: in, until: until}
		in.cache.put(digest, p, until, in.now())
	}
	in.mu.Lock()
	in.back.result(o.overloaded, o.retryAfter, in.now())
	if o.overloaded {
		// The answer's Retry-After is the backoff's.
		rej = unavailableFor(in.back.until.Sub(in.now()), rej.reason)
	}
	delete(in.inflight, digest)
	if !recheck {
		if in.clients[group]--; in.clients[group] <= 0 {
			delete(in.clients, group)
		}
	}
	in.mu.Unlock()
	release()
	if receipt != nil && (rej == nil || !rej.wrong) {
		// Not a wrong credential after all: the charge is returned.
		at.throttle.refund(receipt)
	}
	// Waiters get the answer as it is; the sender's wrong credential has
	// been counted.
	c.p, c.rej = p, rej
	close(c.done)
	if receipt != nil && rej != nil && rej.wrong {
		counted := *rej
		counted.counted = true
		rej = &counted
	}
	return p, rej
}

// cacheUntil is when a cached answer must be asked again: the token's
// exp, or max_cache_ttl from now, whichever comes first.
func (o *introspector) cacheUntil(p *principal) time.Time {
	until := o.now().Add(o.maxTTL)
	if p.exp.Before(until) {
		return p.exp
	}
	return until
}

// warn logs a failure of the authorization server, at most once per
// introspectionWarnEvery seconds. The fields never hold a token or the
// client secret.
func (in *introspector) warn(msg string, fields ...zap.Field) {
	o := in
	now := o.now().Unix()
	if last := in.lastWarn.Load(); now-last >= introspectionWarnEvery && in.lastWarn.CompareAndSwap(last, now) {
		o.logger.Warn(msg, append(fields, zap.String("url", in.url))...)
	}
}

// outcome is how an introspection request went, for the backoff.
type outcome struct {
	// overloaded: the endpoint answered 429 or 5xx, or could not be
	// reached in time.
	overloaded bool
	retryAfter time.Duration // the endpoint's Retry-After
}

// introspectOnce asks the endpoint about a token and judges the answer.
func (in *introspector) introspectOnce(tok string) (*principal, *rejection, outcome) {
	ctx, cancel := context.WithTimeout(in.ctx, in.client.Timeout)
	defer cancel()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url, strings.NewReader(form))
	if err != nil {
		return nil, unavailable(), outcome{}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", in.basicAuth)
	resp, err := in.client.Do(req)
	if err != nil {
		// A *url.Error names the method, the url (which holds no
		// credentials) and the cause; never the body.
		in.warn("token introspection failed: access tokens get 503", zap.Error(err))
		return nil, unavailable(), outcome{overloaded: in.ctx.Err() == nil}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		in.warn("token introspection failed: access tokens get 503 until the authorization server recovers", zap.Int("status", resp.StatusCode))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, unavailable(), outcome{overloaded: true, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), in.now())}
	case resp.StatusCode != http.StatusOK:
		// 400/401/403: usually wrong client credentials, or a url that is
		// not an introspection endpoint.
		in.warn("the authorization server refused the introspection request (check url, client_id and client_secret): access tokens get 401",
			zap.Int("status", resp.StatusCode))
		return nil, reject("the authorization server did not confirm the access token"), outcome{}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil {
		in.warn("token introspection failed: access tokens get 503", zap.Error(err))
		return nil, unavailable(), outcome{overloaded: in.ctx.Err() == nil}
	}
	if len(body) > maxIntrospectionBody {
		in.warn("the introspection answer is too large: access tokens get 503", zap.Int("limit", maxIntrospectionBody))
		return nil, unavailable(), outcome{}
	}
	p, rej, garbled := in.judgeIntrospection(body)
	if garbled != "" {
		in.warn("the introspection answer is malformed: access tokens get 503", zap.String("problem", garbled))
		return nil, unavailable(), outcome{}
	}
	return p, rej, outcome{}
}

// maxNumericDate bounds a date read from an answer, as go-jose bounds a
// JWT's: far past any real date, and safe from overflow.
const maxNumericDate = 1 << 62

// judgeIntrospection reads an introspection answer. garbled names what is
// wrong with an answer that is not RFC 7662 JSON.
func (o *introspector) judgeIntrospection(body []byte) (p *principal, rej *rejection, garbled string) {
	if err := uniqueKeys(body); err != nil {
		return nil, nil, err.Error()
	}
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
		if !ok || f >= maxNumericDate || f <= -maxNumericDate {
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
		return nil, reject("the access token is not a bearer token (token_type " + wire.Quote(tokenType) + ")"), ""
	}
	if _, ok := raw["cnf"]; ok {
		return nil, reject("the access token is sender-constrained (cnf), which this resource cannot check"), ""
	}
	if iss != "" {
		found := false
		for _, want := range o.issuers {
			found = found || iss == want
		}
		if !found {
			return nil, reject("the access token was not issued by the expected issuer"), ""
		}
	} else {
		iss = o.issuer
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
	var id string
	switch {
	case sub != "":
		id = userPrincipalID(iss, sub)
	case clientID != "":
		// A client-credentials token names no user: the client is the
		// caller, in a namespace of its own, so that a client named like
		// a user never holds that user's sessions.
		id, sub = clientPrincipalID(iss, clientID), clientID
	default:
		return nil, reject("the introspection answer names no sub or client_id"), ""
	}
	if !hasExp {
		exp = now.Add(o.maxTTL)
	}
	claims := accessClaims{
		Claims:   jwt.Claims{Issuer: iss, Subject: sub, Expiry: jwt.NewNumericDate(exp)},
		Scope:    raw["scope"],
		Scp:      raw["scp"],
		ClientID: clientID,
	}
	return o.mapper.principalFor(id, &claims, raw), nil, ""
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

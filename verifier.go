package mcpauth

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// principal is an authenticated caller.
type principal struct {
	// id is the namespaced identity for anything keyed on identity
	// (session binding, audit, throttling): "token:<name>" for a static
	// token, "jwt:<iss>#<sub>" for an access token's user and
	// "jwt:<iss>#client:<client_id>" for a client acting for itself (an
	// introspected token without sub); see userPrincipalID.
	id string
	// name is the plain public name: the token name, or a JWT's sub. It is
	// {http.auth.user.id}.
	name     string
	roles    []*compiledRole
	rolesStr string
	// OAuth callers only.
	scopes   []string
	clientID string
	exp      time.Time
	// authority is set for an introspected token: a GET stream opened
	// with it is re-checked when the answer's cache entry ends.
	authority *authority
	// placeholders, boxed once so that publishing them costs nothing.
	boxed [5]any
}

// box prepares the placeholder values.
func (p *principal) box() *principal {
	p.boxed = [5]any{p.name, p.rolesStr, p.id, strings.Join(p.scopes, " "), p.clientID}
	return p
}

// setPlaceholders publishes the caller to the replacer.
func (p *principal) setPlaceholders(repl *caddy.Replacer) {
	if repl == nil {
		return
	}
	repl.Set("http.auth.user.id", p.boxed[0])
	repl.Set("http.auth.user.roles", p.boxed[1])
	repl.Set("http.mcp_auth.principal", p.boxed[2])
	if p.scopes != nil {
		repl.Set("http.auth.user.scopes", p.boxed[3])
		repl.Set("http.auth.user.client_id", p.boxed[4])
	}
}

// verifier checks one kind of credential: the seam that static tokens,
// JWT access tokens and introspected opaque tokens plug into, in the
// spirit of Caddy's caddyauth.Authenticator. verify returns the caller, or
// why the credential is refused; errNotMine passes the credential to the
// next verifier. at is the client presenting it (zero when none is known).
type verifier interface {
	verify(ctx context.Context, tok string, at attempt) (*principal, *rejection)
	// close releases what the verifier holds (Cleanup).
	close()
}

// attempt is the client presenting a credential, as the verifiers see
// it: the group its failures count under, and the throttle that counts
// them (nil when throttling is off). A verifier that asks a remote server
// bounds and charges its requests by it.
type attempt struct {
	group    netip.Prefix
	throttle *throttle
	// digest is the token's SHA-256, hashed once per request for every
	// verifier (zero when the caller did not hash it: digest hashes then).
	digest [32]byte
}

// digestOf returns the digest of tok, the one the attempt carries when set.
func (at attempt) digestOf(tok string) [32]byte {
	if at.digest != ([32]byte{}) {
		return at.digest
	}
	return digestOf(tok)
}

// rejection is why a credential was refused.
type rejection struct {
	// status is 401; 503 while the authorization server cannot tell (or
	// may not be asked now); 429 when the client's failure budget is spent.
	status int
	reason string
	// refusal is the refusal reason (the metric label) of a 401; ""
	// means invalid_token.
	refusal string
	// wrong marks a credential that no authorization server issued for us
	// (garbage, a forged or tampered signature, an unknown key): it counts
	// towards failed-credential throttling. An expired or otherwise
	// genuine token does not.
	wrong bool
	// counted: the failure was charged to the client's budget already (an
	// introspection request is charged when it is sent).
	counted bool
	// retryAfter is the Retry-After of a 503 or 429, in seconds; 0 for the
	// default.
	retryAfter int
}

// errNotMine: the credential is not of this verifier's kind.
var errNotMine = &rejection{reason: "not mine"}

func reject(reason string) *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reason}
}

func rejectWrong(reason string) *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reason, wrong: true}
}

// rejectMalformed refuses a token whose signature verified (or an
// answer of the authorization server) but whose claims are malformed: a
// duplicate key, an exp that is not a number. It is the issuer's fault,
// not a guess: it never counts as a wrong credential.
func rejectMalformed(reason string) *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reason, refusal: reasonMalformedClaims}
}

// userPrincipalID is the principal of an access token's user (its sub):
// "jwt:<iss>#<sub>". A sub that begins with "client:" or "%" gets a "%"
// in front, so that no user is ever the principal of a client
// (clientPrincipalID) or of another user.
func userPrincipalID(iss, sub string) string {
	if strings.HasPrefix(sub, clientPrefix) || strings.HasPrefix(sub, "%") {
		sub = "%" + sub
	}
	return "jwt:" + iss + "#" + sub
}

// clientPrincipalID is the principal of a client acting for itself (a
// client-credentials token that names no sub): "jwt:<iss>#client:<id>".
func clientPrincipalID(iss, clientID string) string {
	return "jwt:" + iss + "#" + clientPrefix + clientID
}

const clientPrefix = "client:"

// tokenStore holds the static tokens by the SHA-256 digest of the token,
// so that the time a lookup takes depends on the digest, never on how
// much of a real secret a guess shares.
type tokenStore struct {
	tokens map[[32]byte]*principal
}

// newTokenStore resolves the secrets of the configured tokens and those
// of the token files. Errors name the token and, for a token file, the
// file and line; never a secret.
func newTokenStore(inline []Token, files []string, roles map[string]*compiledRole) (*tokenStore, error) {
	all, err := collectTokens(inline, files)
	if err != nil {
		return nil, err
	}
	repl := caddy.NewReplacer()
	s := &tokenStore{tokens: make(map[[32]byte]*principal, len(all))}
	byName := make(map[string]string, len(all)) // name → where
	secretAt := make(map[[32]byte]string, len(all))
	for _, t := range all {
		if t.Name == "" {
			return nil, fmt.Errorf("%s: name is required", t.where)
		}
		// Errors name the token, then where it was configured.
		fail := func(format string, a ...any) error {
			return fmt.Errorf("token %q: %s (%s)", t.Name, fmt.Sprintf(format, a...), t.where)
		}
		if first, dup := byName[t.Name]; dup {
			return nil, fail("duplicate token name (first at %s)", first)
		}
		byName[t.Name] = t.where
		if len(t.Roles) == 0 {
			return nil, fail("at least one role is required")
		}
		p := &principal{id: "token:" + t.Name, name: t.Name, rolesStr: strings.Join(t.Roles, ",")}
		for _, rn := range t.Roles {
			cr, ok := roles[rn]
			if !ok {
				return nil, fail("unknown role %q%s", rn, nearestRole(rn, roles))
			}
			p.roles = append(p.roles, cr)
		}
		secret := t.Secret
		if isRuntimeSecret(secret) {
			var err error
			if secret, err = repl.ReplaceOrErr(secret, true, true); err != nil {
				// The error names the placeholder, never its value.
				return nil, fail("secret %s: %v", t.Secret, err)
			}
		}
		d, err := secretDigest(secret)
		if err != nil {
			return nil, fail("%v", err)
		}
		if other, dup := s.tokens[d]; dup {
			return nil, fail("same secret as token %q (%s)", other.name, secretAt[d])
		}
		s.tokens[d] = p.box()
		secretAt[d] = t.where
	}
	return s, nil
}

// lookup finds the principal of a presented token.
func (s *tokenStore) lookup(d [32]byte) *principal { return s.tokens[d] }

func (s *tokenStore) verify(_ context.Context, tok string, at attempt) (*principal, *rejection) {
	if p := s.lookup(at.digestOf(tok)); p != nil {
		return p, nil
	}
	return nil, errNotMine
}

func (s *tokenStore) close() {}

// principalCache remembers the callers of verified access tokens (JWTs
// and introspected tokens alike) by the SHA-256 digest of the token, each
// until its own deadline, at most size of them, least recently used out
// first.
type principalCache struct {
	mu  sync.Mutex
	lru *simplelru.LRU[[32]byte, cached]
}

type cached struct {
	p     *principal
	until time.Time
}

func newPrincipalCache(size int) *principalCache {
	l, _ := simplelru.NewLRU[[32]byte, cached](size, nil)
	return &principalCache{lru: l}
}

func (c *principalCache) get(d [32]byte, now time.Time) *principal {
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

func (c *principalCache) put(d [32]byte, p *principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Add(d, cached{p, until})
}

func (c *principalCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// roleMapper turns the claims of an access token (or an introspection
// answer) into roles: roles_claim and the scope → role mapping. It serves
// every OAuth verifier of a handler, and names the scope of a step-up.
type roleMapper struct {
	roles      map[string]*compiledRole
	rolesClaim string
	scopeRoles []compiledScopeRole
}

type compiledScopeRole struct {
	scope string
	names []string
	roles []*compiledRole
}

// newRoleMapper compiles the mapping of the block named block (jwt or
// introspection).
func newRoleMapper(block string, roles map[string]*compiledRole, rolesClaim string, scopeRoles []ScopeRole) (*roleMapper, error) {
	rm := &roleMapper{roles: roles, rolesClaim: rolesClaim}
	index := map[string]int{}
	for i, sr := range scopeRoles {
		j, seen := index[sr.Scope]
		if !seen {
			j = len(rm.scopeRoles)
			index[sr.Scope] = j
			rm.scopeRoles = append(rm.scopeRoles, compiledScopeRole{scope: sr.Scope})
		}
		for _, rn := range sr.Roles {
			cr, ok := roles[rn]
			if !ok {
				return nil, fmt.Errorf("%s: scope_roles[%d] (%s): unknown role %q", block, i, sr.Scope, rn)
			}
			rm.scopeRoles[j].names = append(rm.scopeRoles[j].names, rn)
			rm.scopeRoles[j].roles = append(rm.scopeRoles[j].roles, cr)
		}
	}
	return rm, nil
}

// principalFor builds the principal of a verified token, named id
// (userPrincipalID or clientPrincipalID).
func (rm *roleMapper) principalFor(id string, c *accessClaims, raw map[string]any) *principal {
	scopes := scopeList(c.Scope)
	if c.Scope == nil {
		scopes = scopeList(c.Scp)
	}
	p := &principal{
		id:       id,
		name:     c.Subject,
		scopes:   scopes,
		clientID: c.ClientID,
		exp:      c.Expiry.Time(),
	}
	if p.clientID == "" {
		p.clientID = c.Azp
	}
	var names []string
	seen := map[string]bool{}
	add := func(name string, cr *compiledRole) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
			p.roles = append(p.roles, cr)
		}
	}
	if rm.rolesClaim != "" {
		for _, rn := range stringList(claimAt(raw, rm.rolesClaim)) {
			if cr, ok := rm.roles[rn]; ok {
				add(rn, cr)
			}
		}
	}
	have := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		have[s] = true
	}
	for _, sr := range rm.scopeRoles {
		if have[sr.scope] {
			for i, rn := range sr.names {
				add(rn, sr.roles[i])
			}
		}
	}
	p.rolesStr = strings.Join(names, ",")
	return p.box()
}

// scopes lists the scopes of the mapping, in order.
func (rm *roleMapper) scopes() []string {
	out := make([]string, 0, len(rm.scopeRoles))
	for _, sr := range rm.scopeRoles {
		out = append(out, sr.scope)
	}
	return out
}

// stepUp names the scope string to ask for when a denied action would be
// granted by a scope the caller lacks: the caller's scopes plus the first
// such scope in scope_role order. Only OAuth callers get one.
func (rm *roleMapper) stepUp(p *principal, a Action) (string, bool) {
	if rm == nil || p.scopes == nil {
		return "", false
	}
	have := make(map[string]bool, len(p.scopes))
	for _, s := range p.scopes {
		have[s] = true
	}
	for _, sr := range rm.scopeRoles {
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

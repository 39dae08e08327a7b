package mcpauth

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// This file holds the checks of every config type: each validates itself
// once, in validate(), which Provision, the Caddyfile parser (adding the
// file and line) and `caddy mcp-auth` call. The single-field checks below
// are what validate() is made of, so that the parser can name the line of
// the field it just read.

// validate checks the handler's settings without provisioning anything.
func (m *MCPAuth) validate() error {
	if m.DenyWith != "" {
		if err := checkDenyWith(m.DenyWith); err != nil {
			return err
		}
	}
	if m.InvalidTokenStatus != 0 {
		if err := checkInvalidToken("invalid_token_status", m.InvalidTokenStatus); err != nil {
			return err
		}
	}
	if m.MaxBody < 0 {
		return fmt.Errorf("max_body: %d is negative", m.MaxBody)
	}
	if m.Header != "" {
		if err := checkHeaderName("header", m.Header); err != nil {
			return err
		}
	}
	if m.Realm != "" {
		if err := checkRealm(m.Realm); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, val string }{{"identity_header", m.IdentityHeader}, {"roles_header", m.RolesHeader}} {
		if f.val == "" {
			continue
		}
		if err := checkHeaderName(f.name, f.val); err != nil {
			return err
		}
		header := m.Header
		if header == "" {
			header = defaultHeader
		}
		if headerKey(f.val) == headerKey(header) || headerKey(f.val) == headerKey(defaultHeader) {
			return fmt.Errorf("%s: %q is the credential header", f.name, f.val)
		}
	}
	if m.HideDenied != nil {
		if err := checkHideStyle(m.HideDenied.Style); err != nil {
			return err
		}
	}
	for i, o := range m.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("allowed_origins[%d]: %v", i, err)
		}
	}
	if m.MinProtocolVersion != "" {
		if err := checkRevision(m.MinProtocolVersion); err != nil {
			return err
		}
	}
	if err := m.Throttle.validate(); err != nil {
		return err
	}
	if m.MemoryBudget != nil {
		if err := m.MemoryBudget.validate(); err != nil {
			return err
		}
		if total, _ := m.MemoryBudget.sizes(); m.MaxBody > total {
			return fmt.Errorf("memory_budget: the total (%d bytes) is smaller than max_body (%d bytes)", total, m.MaxBody)
		}
	}
	ms, err := checkExtensionMethods(m.ExtensionMethods)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(m.Roles))
	for name := range m.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := m.Roles[name].validate(name, ms); err != nil {
			return err
		}
	}
	for i, s := range m.ChallengeScope {
		if !validScopeToken(s) {
			return fmt.Errorf("challenge_scope[%d]: %q is not a valid scope", i, s)
		}
	}
	oauth := m.JWT != nil || m.Introspection != nil
	if oauth && m.InvalidTokenStatus == 403 {
		return errors.New("invalid_token 403 cannot be used with jwt or introspection: OAuth clients re-authenticate only on 401")
	}
	if m.JWT != nil {
		if err := m.JWT.validate(); err != nil {
			return err
		}
	}
	if m.Introspection != nil {
		if err := m.Introspection.validate(); err != nil {
			return err
		}
		if m.JWT != nil && (m.Introspection.RolesClaim != "" || len(m.Introspection.ScopeRoles) > 0) {
			return errors.New("introspection: roles_claim and scope_role belong in the jwt block when there is one (one mapping serves both kinds of access token)")
		}
	}
	if m.ResourceMetadata != nil {
		if err := m.ResourceMetadata.validate(); err != nil {
			return fmt.Errorf("resource_metadata: %v", err)
		}
	}
	return nil
}

func checkDenyWith(v string) error {
	if v != denyJSONRPC && v != denyStatus {
		return fmt.Errorf("deny_with: want jsonrpc or status, got %q", v)
	}
	return nil
}

func checkInvalidToken(field string, n int) error {
	if n != 401 && n != 403 {
		return fmt.Errorf("%s: want 401 or 403, got \"%d\"", field, n)
	}
	return nil
}

func checkHeaderName(field, v string) error {
	if !validHeaderName(v) {
		return fmt.Errorf("%s: %q is not a valid header name", field, v)
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

func checkRealm(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			return errors.New("realm: only printable ASCII without quotes or backslashes")
		}
	}
	return nil
}

func checkHideStyle(s string) error {
	if s != "" && s != styleGo && s != styleTypeScript {
		return fmt.Errorf("hide_denied: style %q is neither %q nor %q", s, styleGo, styleTypeScript)
	}
	return nil
}

func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%q is not an origin (scheme://host[:port])", o)
	}
	return nil
}

func checkRevision(v string) error {
	if wire.RevisionIndex(v) < 0 {
		return fmt.Errorf("min_protocol_version: %q is not an MCP revision (want one of %s)", v, strings.Join(wire.Revisions[:], ", "))
	}
	return nil
}

// validate checks a role's rules against the methods ms knows. A problem
// of one rule is a *ruleError, which names the rule by its index; the
// Caddyfile parser turns that into the rule's line.
func (r Role) validate(name string, ms ruleMethods) error {
	if len(r.Allow) == 0 && len(r.Deny) == 0 {
		return &ruleError{role: name, index: -1, msg: "has no rules"}
	}
	for i, list := range [2][]Rule{r.Allow, r.Deny} {
		deny := i == 1
		for j, rule := range list {
			fail := func(msg string) error {
				return &ruleError{role: name, deny: deny, index: j, rule: rule, msg: msg}
			}
			if rule.Method == "" {
				return fail("method is required")
			}
			for k, t := range rule.Targets {
				if t == "" {
					return fail(fmt.Sprintf("target %d is empty", k))
				}
			}
			if msg := ms.checkRule(deny, rule); msg != "" {
				return fail(msg)
			}
		}
	}
	return nil
}

// validate checks the memory budget.
func (mb *MemoryBudget) validate() error {
	if mb.Total < 0 || mb.PerCaller < 0 {
		return errors.New("memory_budget: sizes must be positive")
	}
	if total, share := mb.sizes(); share > total {
		return fmt.Errorf("memory_budget: the share per caller (%d bytes) is larger than the total (%d bytes)", share, total)
	}
	return nil
}

// validate checks the throttle settings.
func (t *ThrottleConfig) validate() error {
	if t == nil || t.Off {
		return nil
	}
	if t.Failures < 0 {
		return fmt.Errorf("throttle: failures %d is negative", t.Failures)
	}
	if t.Window < 0 {
		return errors.New("throttle: window is negative")
	}
	return nil
}

// validate checks the jwt block without resolving placeholders or
// reading key files.
func (c *JWTConfig) validate() error {
	if c.Issuer == "" {
		return errors.New("jwt: issuer is required")
	}
	if len(c.Audiences) == 0 {
		return errors.New("jwt: audience is required")
	}
	for i, a := range c.Audiences {
		if a == "" {
			return fmt.Errorf("jwt: audiences[%d] is empty", i)
		}
	}
	for _, a := range c.Algorithms {
		if _, ok := allowedAlgorithms[a]; !ok {
			return fmt.Errorf("jwt: algorithm %q is not allowed (want RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA; HMAC and none never are)", a)
		}
	}
	if l := time.Duration(c.Leeway); l < 0 || l > maxLeeway {
		return fmt.Errorf("jwt: leeway %s is outside 0..%s", l, maxLeeway)
	}
	if c.CacheSize < 0 {
		return fmt.Errorf("jwt: cache_size %d is negative", c.CacheSize)
	}
	if err := checkAcceptTyp(c.AcceptTyp); err != nil {
		return err
	}
	sources := 0
	for _, set := range []bool{c.JWKSURL != "", c.JWKSFile != "", len(c.PublicKeys) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return errors.New("jwt: exactly one of jwks_url, jwks_file and public_key is required")
	}
	if c.JWKSURL != "" {
		if err := checkConfigURL(c.JWKSURL); err != nil {
			return fmt.Errorf("jwt: jwks_url: %v", err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"refetch_interval", time.Duration(c.RefetchInterval)}, {"min_refresh", time.Duration(c.MinRefresh)}, {"max_refresh", time.Duration(c.MaxRefresh)}} {
		if d.v < 0 {
			return fmt.Errorf("jwt: %s is negative", d.name)
		}
	}
	return checkScopeRoles("jwt", c.ScopeRoles)
}

func checkScopeRoles(block string, srs []ScopeRole) error {
	for i, sr := range srs {
		if !validScopeToken(sr.Scope) {
			return fmt.Errorf("%s: scope_roles[%d]: %q is not a valid scope", block, i, sr.Scope)
		}
		if len(sr.Roles) == 0 {
			return fmt.Errorf("%s: scope_roles[%d] (%s): at least one role is required", block, i, sr.Scope)
		}
	}
	return nil
}

// validate checks the introspection block without resolving placeholders.
func (c *IntrospectionConfig) validate() error {
	if c.URL == "" {
		return errors.New("introspection: url is required")
	}
	if !strings.Contains(c.URL, "{") {
		if err := checkIntrospectionURL(c.URL); err != nil {
			return fmt.Errorf("introspection: url: %v", err)
		}
	}
	if c.ClientID == "" {
		return errors.New("introspection: client_id is required")
	}
	if c.ClientSecret == "" {
		return errors.New("introspection: client_secret is required")
	}
	if t := time.Duration(c.Timeout); t < 0 || t > maxIntrospectionTimeout {
		return fmt.Errorf("introspection: timeout %s is outside 0..%s", t, maxIntrospectionTimeout)
	}
	if c.MaxCacheTTL < 0 {
		return errors.New("introspection: max_cache_ttl is negative")
	}
	if c.CacheSize < 0 {
		return fmt.Errorf("introspection: cache_size %d is negative", c.CacheSize)
	}
	if c.MaxConcurrent < 0 || c.MaxConcurrentPerClient < 0 {
		return errors.New("introspection: max_concurrent and max_concurrent_per_client must not be negative")
	}
	return checkScopeRoles("introspection", c.ScopeRoles)
}

// validate checks the metadata URLs that hold no placeholder.
func (md *ResourceMetadata) validate() error {
	if md.Resource != "" {
		if err := checkConfigURL(md.Resource); err != nil {
			return fmt.Errorf("resource: %v", err)
		}
	}
	for i, as := range md.AuthorizationServers {
		if err := checkConfigURL(as); err != nil {
			return fmt.Errorf("authorization_servers[%d]: %v", i, err)
		}
	}
	for i, s := range md.ScopesSupported {
		if !validScopeToken(s) {
			return fmt.Errorf("scopes_supported[%d]: %q is not a valid scope", i, s)
		}
	}
	if md.ResourceDocumentation != "" {
		if err := checkConfigURL(md.ResourceDocumentation); err != nil {
			return fmt.Errorf("resource_documentation: %v", err)
		}
	}
	return nil
}

package mcpauth

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_auth", parseCaddyfile)
	// After forward_auth, and so before handle, route and reverse_proxy: a
	// site-wide mcp_auth guards every handle block too.
	httpcaddyfile.RegisterDirectiveOrder("mcp_auth", httpcaddyfile.After, "forward_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(MCPAuth)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	mcp_auth [<matcher>] {
//		# token <name> <secret> <role...>
//		token <name> <secret> <role...>
//		token_file <path>
//
//		role <name> {
//			allow <method> [<target...>]
//			deny  <method> [<target...>]
//		}
//		extension_method <method> [name|uri]  # a method the module does not know, for rules
//
//		header        <name>          # default Authorization
//		realm         <realm>         # default mcp
//		invalid_token 403|401         # default 403 (automatic)
//		min_protocol_version <revision> # e.g. 2025-06-18; default: every revision
//		deny_with     jsonrpc|status  # default jsonrpc
//		max_body      <size>          # default 1MiB
//		pass_authorization
//
//		hide_denied                     # a denied item is answered by the backend as an unknown one
//		                                # (the old [go|typescript] { *_message … } forms are accepted and ignored)
//		identity_header <name>          # e.g. X-MCP-User: the principal
//		roles_header    <name>          # e.g. X-MCP-Roles: the roles
//		session_key     {env.VAR}       # default: random key in Caddy's storage
//		binding_scope   <name>          # default: none (one binding domain per key)
//		session_binding on|off          # default on
//		allowed_origins <origin...>     # default: any
//		throttle        <n>/<window>|off  # default 30/1m per client IP
//		memory_budget   <total> [<per caller>]  # default 256MiB, a quarter per caller
//		audit                           # one log entry per decision
//
//		jwt {                           # OAuth 2.1 access tokens (see parseJWTBlock)
//			issuer      <url>
//			jwks_url    <url>             # or jwks_file <path> / public_key <pem file>
//			audience    <aud...>
//			scope_role  <scope> <role...>
//		}
//		introspection {                 # opaque access tokens, RFC 7662 (see parseIntrospectionBlock)
//			url           <url>
//			client_id     <id>
//			client_secret {env.VAR}       # a placeholder: literals are refused
//		}
//		resource_metadata {             # RFC 9728 metadata (see MCPProtectedResource)
//			resource              <url>   # default: the single jwt audience
//			authorization_servers <url...>
//			scopes_supported      <scope...>
//			resource_name         <name>
//		}
//		challenge_scope <scope...>      # scope="…" in 401 challenges
//	}
//
// A secret is a literal token (stored as its sha256: digest in the adapted
// JSON), "sha256:<64 hex digits>", or an {env.*} / {file.*} placeholder
// resolved when the config is loaded. In rules only `*` is special; it
// matches any run of characters, `/` included. A rule's method must be one
// the module knows (or a glob matching one) or be declared with
// extension_method; targets go only on methods that have one; a deny of a
// method every caller may always send (ping, initialize, notifications)
// is an error, as it could never take effect.
func (m *MCPAuth) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // consume directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	once := func(name string) error {
		if seen[name] {
			return d.Errf("duplicate %s subdirective", name)
		}
		seen[name] = true
		return nil
	}
	tokenNames := map[string]bool{}
	secrets := map[string]string{}
	type tokenRef struct {
		name, role string
		err        error
	}
	var refs []tokenRef
	// Rules are checked once every extension_method is known, each error
	// at its rule's line.
	var roleOrder []string
	ruleLines := map[string][2][]caddyfile.Dispenser{}
	extSeen := map[string]bool{}

	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		switch sub {
		case "token":
			args := d.RemainingArgs()
			if len(args) < 3 {
				return d.Errf("token: want <name> <secret> <role...>, got %d argument(s)", len(args))
			}
			name := args[0]
			if tokenNames[name] {
				return d.Errf("token %q: duplicate token name", name)
			}
			tokenNames[name] = true
			secret, err := normalizeSecret(args[1])
			if err != nil {
				return d.Errf("token %q: %v", name, err)
			}
			if other, dup := secrets[secret]; dup && !isRuntimeSecret(secret) {
				return d.Errf("token %q: same secret as token %q", name, other)
			}
			secrets[secret] = name
			for _, r := range args[2:] {
				refs = append(refs, tokenRef{name: name, role: r, err: d.Errf("token %q: unknown role %q", name, r)})
			}
			m.Tokens = append(m.Tokens, Token{Name: name, Secret: secret, Roles: args[2:]})
			if d.NextBlock(nesting + 1) {
				return d.Errf("token: unexpected block")
			}

		case "token_file":
			var path string
			if !d.AllArgs(&path) {
				return d.ArgErr()
			}
			m.TokenFiles = append(m.TokenFiles, path)

		case "role":
			var name string
			if !d.AllArgs(&name) {
				return d.ArgErr()
			}
			if _, dup := m.Roles[name]; dup {
				return d.Errf("role %q: duplicate role", name)
			}
			var role Role
			var at [2][]caddyfile.Dispenser // allow, deny: each rule's line
			for d.NextBlock(nesting + 1) {
				verb := d.Val()
				line := *d // on the verb: where the rule's errors point
				args := d.RemainingArgs()
				if verb != "allow" && verb != "deny" {
					return d.Errf("role %q: unrecognized role subdirective '%s' (want allow or deny)", name, verb)
				}
				if len(args) == 0 {
					return d.Errf("role %q: %s: want <method> [<target...>]", name, verb)
				}
				if d.NextBlock(nesting + 2) {
					return d.Errf("role %q: %s: unexpected block", name, verb)
				}
				rule := Rule{Method: args[0], Targets: args[1:]}
				if verb == "allow" {
					role.Allow = append(role.Allow, rule)
					at[0] = append(at[0], line)
				} else {
					role.Deny = append(role.Deny, rule)
					at[1] = append(at[1], line)
				}
			}
			roleOrder = append(roleOrder, name)
			ruleLines[name] = at
			if len(role.Allow) == 0 && len(role.Deny) == 0 {
				return d.Errf("role %q has no rules", name)
			}
			if m.Roles == nil {
				m.Roles = map[string]Role{}
			}
			m.Roles[name] = role

		case "extension_method":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("extension_method: want <method> [name|uri], got %d argument(s)", len(args))
			}
			e := ExtensionMethod{Method: args[0]}
			if len(args) == 2 {
				e.Target = args[1]
			}
			if err := checkExtensionMethod(e); err != nil {
				return d.Errf("extension_method: %v", err)
			}
			if extSeen[e.Method] {
				return d.Errf("extension_method: %q is declared twice", e.Method)
			}
			extSeen[e.Method] = true
			if d.NextBlock(nesting + 1) {
				return d.Err("extension_method: unexpected block")
			}
			m.ExtensionMethods = append(m.ExtensionMethods, e)

		case "header", "realm", "deny_with", "invalid_token", "max_body", "min_protocol_version":
			if err := once(sub); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			var err error
			switch sub {
			case "header":
				m.Header, err = val, checkHeaderName("header", val)
			case "realm":
				m.Realm, err = val, checkRealm(val)
			case "deny_with":
				m.DenyWith, err = val, checkDenyWith(val)
			case "min_protocol_version":
				m.MinProtocolVersion, err = val, checkRevision(val)
			case "invalid_token":
				n, convErr := strconv.Atoi(val)
				if convErr != nil {
					return d.Errf("invalid_token: want 401 or 403, got %q", val)
				}
				m.InvalidTokenStatus, err = n, checkInvalidToken("invalid_token", n)
			case "max_body":
				size, perr := humanize.ParseBytes(val)
				if perr != nil || size == 0 || size > 1<<40 {
					return d.Errf("max_body: want a size such as 1MiB, got %q", val)
				}
				m.MaxBody = int64(size)
			}
			if err != nil {
				return d.Err(err.Error())
			}

		case "pass_authorization":
			if err := once(sub); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			m.PassAuthorization = true

		case "hide_denied":
			if err := once(sub); err != nil {
				return err
			}
			m.HideDenied = new(HideDenied)
			if err := m.HideDenied.unmarshalCaddyfile(d, nesting); err != nil {
				return err
			}

		case "identity_header", "roles_header", "session_key", "binding_scope":
			if err := once(sub); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			switch sub {
			case "identity_header", "roles_header":
				if err := checkHeaderName(sub, val); err != nil {
					return d.Err(err.Error())
				}
				if sub == "identity_header" {
					m.IdentityHeader = val
				} else {
					m.RolesHeader = val
				}
			case "binding_scope":
				m.BindingScope = val
			case "session_key":
				if !isRuntimeSecret(val) {
					return d.Errf("session_key: use an {env.*} or {file.*} placeholder, so the key stays out of the JSON config")
				}
				m.SessionKey = val
			}

		case "session_binding":
			if err := once(sub); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			switch val {
			case "on":
			case "off":
				m.DisableSessionBinding = true
			default:
				return d.Errf("session_binding: want on or off, got %q", val)
			}

		case "allowed_origins":
			origins := d.RemainingArgs()
			if len(origins) == 0 {
				return d.ArgErr()
			}
			for _, o := range origins {
				if err := checkOrigin(o); err != nil {
					return d.Errf("allowed_origins: %v", err)
				}
			}
			m.AllowedOrigins = append(m.AllowedOrigins, origins...)

		case "throttle":
			if err := once(sub); err != nil {
				return err
			}
			var val string
			if !d.AllArgs(&val) {
				return d.ArgErr()
			}
			t := &ThrottleConfig{}
			if val == "off" {
				t.Off = true
			} else {
				n, w, ok := strings.Cut(val, "/")
				failures, err := strconv.Atoi(n)
				if !ok || err != nil || failures < 1 {
					return d.Errf("throttle: want <failures>/<window> such as 30/1m, or off; got %q", val)
				}
				window, err := caddy.ParseDuration(w)
				if err != nil || window <= 0 {
					return d.Errf("throttle: want <failures>/<window> such as 30/1m, or off; got %q", val)
				}
				t.Failures, t.Window = failures, caddy.Duration(window)
			}
			m.Throttle = t

		case "memory_budget":
			if err := once(sub); err != nil {
				return err
			}
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("memory_budget: want <total> [<per caller>], such as 256MiB 64MiB")
			}
			mb := &MemoryBudget{}
			for i, a := range args {
				size, err := humanize.ParseBytes(a)
				if err != nil || size == 0 || size > 1<<40 {
					return d.Errf("memory_budget: want a size such as 256MiB, got %q", a)
				}
				if i == 0 {
					mb.Total = int64(size)
				} else {
					mb.PerCaller = int64(size)
				}
			}
			if err := mb.validate(); err != nil {
				return d.Err(err.Error())
			}
			m.MemoryBudget = mb

		case "audit":
			if err := once(sub); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			m.Audit = true

		case "jwt":
			if err := once(sub); err != nil {
				return err
			}
			m.JWT = new(JWTConfig)
			if err := m.JWT.unmarshalCaddyfile(d, nesting); err != nil {
				return err
			}

		case "introspection":
			if err := once(sub); err != nil {
				return err
			}
			m.Introspection = new(IntrospectionConfig)
			if err := m.Introspection.unmarshalCaddyfile(d, nesting); err != nil {
				return err
			}

		case "resource_metadata":
			if err := once(sub); err != nil {
				return err
			}
			if d.NextArg() {
				return d.ArgErr()
			}
			m.ResourceMetadata = new(ResourceMetadata)
			if err := m.ResourceMetadata.unmarshalBody(d, nesting+1); err != nil {
				return err
			}

		case "challenge_scope":
			if err := once(sub); err != nil {
				return err
			}
			scopes, err := parseChallengeScope(d)
			if err != nil {
				return err
			}
			m.ChallengeScope = scopes

		default:
			return d.Errf("unrecognized mcp_auth subdirective '%s'", sub)
		}
	}

	for _, ref := range refs {
		if _, ok := m.Roles[ref.role]; !ok {
			return ref.err
		}
	}
	ms, err := checkExtensionMethods(m.ExtensionMethods)
	if err != nil {
		return d.Errf("mcp_auth: %v", err)
	}
	for _, name := range roleOrder {
		err := m.Roles[name].validate(name, ms)
		var re *ruleError
		if errors.As(err, &re) && re.index >= 0 {
			line := ruleLines[name][boolIndex(re.deny)][re.index]
			return line.Err(re.caddyfile())
		}
		if err != nil {
			return d.Err(err.Error())
		}
	}
	if len(m.Tokens) == 0 && len(m.TokenFiles) == 0 && m.JWT == nil && m.Introspection == nil {
		return d.Err("mcp_auth: at least one token or token_file is required, or jwt or introspection")
	}
	// What no single line shows: the combinations.
	if err := m.validate(); err != nil {
		return d.Errf("mcp_auth: %v", err)
	}
	return nil
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unmarshalCaddyfile parses `hide_denied [go|typescript] { … }`; the
// dispenser is on the subdirective name.
func (h *HideDenied) unmarshalCaddyfile(d *caddyfile.Dispenser, nesting int) error {
	if d.NextArg() {
		h.Style = d.Val()
		if h.Style != styleGo && h.Style != styleTypeScript {
			return d.Errf("hide_denied: want go or typescript, got %q", h.Style)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	for d.NextBlock(nesting + 1) {
		field := d.Val()
		var msg string
		if !d.AllArgs(&msg) {
			return d.ArgErr()
		}
		switch field {
		case "tool_message":
			h.ToolMessage = msg
		case "prompt_message":
			h.PromptMessage = msg
		case "resource_message":
			h.ResourceMessage = msg
		default:
			return d.Errf("hide_denied: unrecognized subdirective '%s'", field)
		}
	}
	return nil
}

// blockLine is one line of a nested block (jwt, introspection,
// resource_metadata): its name and arguments, read with uniform checks and
// error messages.
type blockLine struct {
	d     *caddyfile.Dispenser
	block string // "jwt", "introspection", …
	sub   string
	args  []string
}

// nextBlockLine reads the arguments of the line the dispenser is on and
// refuses a nested block and, unless the subdirective is repeatable, a
// second line of the same name.
func nextBlockLine(d *caddyfile.Dispenser, nesting int, block string, seen map[string]bool, repeatable ...string) (blockLine, error) {
	l := blockLine{d: d, block: block, sub: d.Val(), args: d.RemainingArgs()}
	if d.NextBlock(nesting + 2) {
		return l, d.Errf("%s: %s: unexpected block", block, l.sub)
	}
	for _, r := range repeatable {
		if l.sub == r {
			return l, nil
		}
	}
	if seen[l.sub] {
		return l, d.Errf("%s: duplicate %s", block, l.sub)
	}
	seen[l.sub] = true
	return l, nil
}

// one returns the line's single argument.
func (l blockLine) one() (string, error) {
	if len(l.args) != 1 {
		return "", l.d.Errf("%s: %s: want exactly one value, got %d", l.block, l.sub, len(l.args))
	}
	return l.args[0], nil
}

// duration returns the line's argument as a duration; zero is allowed
// only with allowZero. example shows a valid value in the error.
func (l blockLine) duration(example string, allowZero bool) (caddy.Duration, error) {
	v, err := l.one()
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur < 0 || (dur == 0 && !allowZero) {
		return 0, l.d.Errf("%s: %s: want a duration such as %s, got %q", l.block, l.sub, example, v)
	}
	return caddy.Duration(dur), nil
}

// positive returns the line's argument as a positive number.
func (l blockLine) positive() (int, error) {
	v, err := l.one()
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, l.d.Errf("%s: %s: want a positive number, got %q", l.block, l.sub, v)
	}
	return n, nil
}

// unmarshalCaddyfile parses `jwt { … }` inside mcp_auth; the dispenser is on
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
//		accept_typ       <typ...>              # typ besides at+jwt, such as JWT (Keycloak, Entra ID)
//	}
func (c *JWTConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, nesting int) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(nesting + 1) {
		l, err := nextBlockLine(d, nesting, "jwt", seen, "audience", "scope_role", "public_key")
		if err != nil {
			return err
		}
		sub, args, one := l.sub, l.args, l.one
		duration := func() (caddy.Duration, error) { return l.duration("30s", true) }
		switch sub {
		case "issuer":
			if c.Issuer, err = one(); err != nil {
				return err
			}
		case "jwks_url":
			if c.JWKSURL, err = one(); err != nil {
				return err
			}
			if err := checkConfigURL(c.JWKSURL); err != nil {
				return d.Errf("jwt: jwks_url: %v", err)
			}
		case "jwks_file":
			if c.JWKSFile, err = one(); err != nil {
				return err
			}
		case "public_key":
			v, err := one()
			if err != nil {
				return err
			}
			c.PublicKeys = append(c.PublicKeys, v)
		case "audience":
			if len(args) == 0 {
				return d.Errf("jwt: audience: want <aud...>")
			}
			c.Audiences = append(c.Audiences, args...)
		case "algorithms":
			if len(args) == 0 {
				return d.Errf("jwt: algorithms: want <alg...>")
			}
			for _, a := range args {
				if _, ok := allowedAlgorithms[a]; !ok {
					return d.Errf("jwt: algorithms: %q is not allowed (want RS*, PS*, ES* or EdDSA; HMAC and none never are)", a)
				}
			}
			c.Algorithms = args
		case "leeway":
			if c.Leeway, err = duration(); err != nil {
				return err
			}
			if time.Duration(c.Leeway) > maxLeeway {
				return d.Errf("jwt: leeway: at most %s", maxLeeway)
			}
		case "roles_claim":
			if c.RolesClaim, err = one(); err != nil {
				return err
			}
		case "scope_role":
			sr, err := parseScopeRole(d, "jwt", args)
			if err != nil {
				return err
			}
			c.ScopeRoles = append(c.ScopeRoles, sr)
		case "refetch_interval":
			if c.RefetchInterval, err = duration(); err != nil {
				return err
			}
		case "min_refresh":
			if c.MinRefresh, err = duration(); err != nil {
				return err
			}
		case "max_refresh":
			if c.MaxRefresh, err = duration(); err != nil {
				return err
			}
		case "cache_size":
			if c.CacheSize, err = l.positive(); err != nil {
				return err
			}
		case "accept_typ":
			if len(args) == 0 {
				return d.Errf("jwt: accept_typ: want <typ...>")
			}
			c.AcceptTyp = args
		default:
			return d.Errf("unrecognized jwt subdirective '%s'", sub)
		}
	}
	if err := c.validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
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

// unmarshalCaddyfile parses `introspection { … }` inside mcp_auth;
// the dispenser is on the subdirective name. Syntax:
//
//	introspection {
//		url           <url>                  # required: the RFC 7662 endpoint
//		client_id     <id>                   # required
//		client_secret {env.VAR}|{file.path}  # required; a literal is refused
//		timeout       <duration>             # default 5s
//		cache_size    <n>                    # default 10000
//		max_cache_ttl <duration>             # default 1m
//		max_concurrent            <n>        # default 64
//		max_concurrent_per_client <n>        # default 8
//		roles_claim   <dot.path>             # only without jwt
//		scope_role    <scope> <role...>      # only without jwt; repeatable
//	}
func (c *IntrospectionConfig) unmarshalCaddyfile(d *caddyfile.Dispenser, nesting int) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(nesting + 1) {
		l, err := nextBlockLine(d, nesting, "introspection", seen, "scope_role")
		if err != nil {
			return err
		}
		sub, args, one := l.sub, l.args, l.one
		duration := func() (caddy.Duration, error) { return l.duration("5s", false) }
		switch sub {
		case "url":
			if c.URL, err = one(); err != nil {
				return err
			}
			if !strings.Contains(c.URL, "{") {
				if err := checkIntrospectionURL(c.URL); err != nil {
					return d.Errf("introspection: url: %v", err)
				}
			}
		case "client_id":
			if c.ClientID, err = one(); err != nil {
				return err
			}
		case "client_secret":
			if len(args) != 1 {
				// Never echo the arguments: one of them may be the secret.
				return d.Errf("introspection: client_secret: want exactly one value, got %d", len(args))
			}
			if !isRuntimeSecret(args[0]) {
				return d.Err("introspection: client_secret: use an {env.*} or {file.*} placeholder, so the secret stays out of the JSON config")
			}
			c.ClientSecret = args[0]
		case "timeout":
			if c.Timeout, err = duration(); err != nil {
				return err
			}
			if time.Duration(c.Timeout) > maxIntrospectionTimeout {
				return d.Errf("introspection: timeout: at most %s", maxIntrospectionTimeout)
			}
		case "max_cache_ttl":
			if c.MaxCacheTTL, err = duration(); err != nil {
				return err
			}
		case "cache_size":
			if c.CacheSize, err = l.positive(); err != nil {
				return err
			}
		case "max_concurrent":
			if c.MaxConcurrent, err = l.positive(); err != nil {
				return err
			}
		case "max_concurrent_per_client":
			if c.MaxConcurrentPerClient, err = l.positive(); err != nil {
				return err
			}
		case "roles_claim":
			if c.RolesClaim, err = one(); err != nil {
				return err
			}
		case "scope_role":
			sr, err := parseScopeRole(d, "introspection", args)
			if err != nil {
				return err
			}
			c.ScopeRoles = append(c.ScopeRoles, sr)
		default:
			return d.Errf("unrecognized introspection subdirective '%s'", sub)
		}
	}
	if c.URL == "" {
		return d.Err("introspection: url is required")
	}
	if err := c.validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

// unmarshalBody parses the lines of a resource_metadata (or
// mcp_protected_resource) block.
func (md *ResourceMetadata) unmarshalBody(d *caddyfile.Dispenser, nesting int) error {
	seen := map[string]bool{}
	for d.NextBlock(nesting) {
		sub := d.Val()
		if seen[sub] {
			return d.Errf("resource_metadata: duplicate %s", sub)
		}
		seen[sub] = true
		args := d.RemainingArgs()
		if d.NextBlock(nesting + 1) {
			return d.Errf("resource_metadata: %s: unexpected block", sub)
		}
		switch sub {
		case "resource", "resource_name", "resource_documentation":
			if len(args) != 1 {
				return d.Errf("resource_metadata: %s: want exactly one value, got %d", sub, len(args))
			}
			switch sub {
			case "resource":
				if err := checkConfigURL(args[0]); err != nil {
					return d.Errf("resource_metadata: resource: %v", err)
				}
				md.Resource = args[0]
			case "resource_name":
				md.ResourceName = args[0]
			default:
				md.ResourceDocumentation = args[0]
			}
		case "authorization_servers":
			if len(args) == 0 {
				return d.Errf("resource_metadata: authorization_servers: want <url...>")
			}
			for _, a := range args {
				if err := checkConfigURL(a); err != nil {
					return d.Errf("resource_metadata: authorization_servers: %v", err)
				}
			}
			md.AuthorizationServers = args
		case "scopes_supported":
			if len(args) == 0 {
				return d.Errf("resource_metadata: scopes_supported: want <scope...>")
			}
			for _, s := range args {
				if !validScopeToken(s) {
					return d.Errf("resource_metadata: scopes_supported: %q is not a valid scope", s)
				}
			}
			md.ScopesSupported = args
		default:
			return d.Errf("unrecognized resource_metadata subdirective '%s'", sub)
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*MCPAuth)(nil)

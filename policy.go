package mcpauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// This file holds what `caddy mcp-auth explain` and `caddy mcp-auth test`
// share: the mcp_auth handlers of a config, compiled as Provision compiles
// them but without secrets, network or serving, and the decision on one
// action for one caller.

// policy is one mcp_auth handler of a config, ready for decisions.
type policy struct {
	// path is the handler's place in the JSON config, such as
	// apps.http.servers.srv0.routes[0].handle[0].
	path   string
	m      MCPAuth
	ms     ruleMethods
	roles  map[string]*compiledRole
	mapper *roleMapper // nil without jwt or introspection
	// tokens are the inline tokens, then those of the token files once
	// a caller needed them (filesRead).
	tokens    []tokenEntry
	filesRead bool
}

// adapterFor is the config adapter for a file: the one asked for, else
// json for a .json file and caddyfile for any other, as `caddy run` does.
func adapterFor(adapter, filename string) string {
	if adapter != "" {
		return adapter
	}
	if strings.HasSuffix(filename, ".json") {
		return "json"
	}
	return "caddyfile"
}

// loadPolicies adapts a config (unless it is JSON) and compiles every
// mcp_auth handler in it, with the checks Provision makes that need no
// secret, no token file and no network. Errors name the handler's place in
// the JSON config.
func loadPolicies(raw []byte, adapter, filename string) ([]*policy, error) {
	cfg := raw
	if adapter != "json" {
		ad := caddyconfig.GetAdapter(adapter)
		if ad == nil {
			return nil, fmt.Errorf("unknown config adapter %q", adapter)
		}
		var err error
		if cfg, _, err = ad.Adapt(raw, map[string]any{"filename": filename}); err != nil {
			return nil, err
		}
	}
	var tree any
	if err := json.Unmarshal(cfg, &tree); err != nil {
		return nil, fmt.Errorf("%s: %v", filename, err)
	}
	var found []foundHandler
	findHandlers(tree, "", &found)
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: no mcp_auth handler in the config", filename)
	}
	out := make([]*policy, 0, len(found))
	for _, h := range found {
		p, err := compilePolicy(h)
		if err != nil {
			return nil, fmt.Errorf("mcp_auth at %s: %v", h.path, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func compilePolicy(h foundHandler) (*policy, error) {
	p := &policy{path: h.path}
	// Strictly, as Caddy decodes a module's config.
	dec := json.NewDecoder(bytes.NewReader(h.raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.m); err != nil {
		return nil, err
	}
	if err := p.m.validate(); err != nil {
		return nil, err
	}
	var err error
	if p.ms, err = checkExtensionMethods(p.m.ExtensionMethods); err != nil {
		return nil, err
	}
	if p.roles, err = compileRoles(p.m.Roles, p.m.ExtensionMethods); err != nil {
		return nil, err
	}
	switch {
	case p.m.JWT != nil:
		p.mapper, err = newRoleMapper("jwt", p.roles, p.m.JWT.RolesClaim, p.m.JWT.ScopeRoles)
	case p.m.Introspection != nil:
		p.mapper, err = newRoleMapper("introspection", p.roles, p.m.Introspection.RolesClaim, p.m.Introspection.ScopeRoles)
	}
	if err != nil {
		return nil, err
	}
	if p.tokens, err = collectTokens(p.m.Tokens, nil); err != nil {
		return nil, err
	}
	for _, t := range p.tokens {
		if err := p.checkToken(t); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkToken refuses a token with an unknown role, as Provision does.
func (p *policy) checkToken(t tokenEntry) error {
	for _, rn := range t.Roles {
		if _, ok := p.roles[rn]; !ok {
			return fmt.Errorf("token %q: unknown role %q%s (%s)", t.Name, rn, nearestRole(rn, p.roles), t.where)
		}
	}
	return nil
}

// token finds a token by its name: an inline one, else one of the token
// files, read the first time a caller needs them.
func (p *policy) token(name string) (*tokenEntry, error) {
	for {
		for i := range p.tokens {
			if p.tokens[i].Name == name {
				return &p.tokens[i], nil
			}
		}
		if p.filesRead || len(p.m.TokenFiles) == 0 {
			return nil, nil
		}
		p.filesRead = true
		more, err := collectTokens(nil, p.m.TokenFiles)
		if err != nil {
			return nil, fmt.Errorf("token %q is not inline and %v", name, err)
		}
		for _, t := range more {
			if err := p.checkToken(t); err != nil {
				return nil, err
			}
		}
		p.tokens = append(p.tokens, more...)
	}
}

type foundHandler struct {
	path string
	raw  json.RawMessage
}

// findHandlers collects every object with "handler": "mcp_auth" and its
// place in the config, in the order of the config's keys (sorted) and
// arrays.
func findHandlers(v any, path string, out *[]foundHandler) {
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "mcp_auth" {
			cfg := make(map[string]any, len(x))
			for k, v := range x {
				if k != "handler" {
					cfg[k] = v
				}
			}
			b, _ := json.Marshal(cfg)
			*out = append(*out, foundHandler{path: path, raw: b})
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			findHandlers(x[k], sub, out)
		}
	case []any:
		for i, e := range x {
			findHandlers(e, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}

// caller is who makes a call: a static token by its name, a set of roles,
// or the claims of an OAuth access token (mapped to roles by the handler's
// roles_claim and scope_role).
type caller struct {
	Token  string
	Roles  []string
	Claims map[string]any
}

func (c caller) kinds() int {
	n := 0
	for _, set := range []bool{c.Token != "", c.Roles != nil, c.Claims != nil} {
		if set {
			n++
		}
	}
	return n
}

// resolved is a caller with its roles, in one handler.
type resolved struct {
	p     *policy
	who   string // for messages: token "bob", roles reader, claims of sub "u1"
	token string
	names []string
	held  []*compiledRole
}

// pick finds the handler a caller is judged by: the one asked for
// (1-based), else the first that has the named token, else the only one.
func pick(ps []*policy, handler int, c caller) (*resolved, error) {
	if c.kinds() != 1 {
		return nil, errors.New("name the caller once: a token name, roles or claims")
	}
	if handler < 0 || handler > len(ps) {
		return nil, fmt.Errorf("handler %d: the config has %d mcp_auth handler(s)", handler, len(ps))
	}
	if handler > 0 {
		r, err := ps[handler-1].resolve(c)
		if err == nil && r == nil {
			err = fmt.Errorf("no token named %q in mcp_auth handler %d", c.Token, handler)
		}
		return r, err
	}
	if c.Token != "" {
		for _, p := range ps {
			r, err := p.resolve(c)
			if err != nil || r != nil {
				return r, err
			}
		}
		return nil, fmt.Errorf("no token named %q in the config", c.Token)
	}
	if len(ps) > 1 {
		return nil, fmt.Errorf("the config has %d mcp_auth handlers: name one (1..%d)", len(ps), len(ps))
	}
	return ps[0].resolve(c)
}

// resolve gives the caller's roles in this handler; nil, nil when a named
// token is not in it. Errors name the handler.
func (p *policy) resolve(c caller) (*resolved, error) {
	r, err := p.resolveIn(c)
	if err != nil {
		return nil, fmt.Errorf("mcp_auth at %s: %v", p.path, err)
	}
	return r, nil
}

func (p *policy) resolveIn(c caller) (*resolved, error) {
	r := &resolved{p: p}
	switch {
	case c.Token != "":
		t, err := p.token(c.Token)
		if err != nil || t == nil {
			return nil, err
		}
		r.who, r.token, r.names = fmt.Sprintf("token %q (roles %s)", t.Name, strings.Join(t.Roles, ",")), t.Name, t.Roles
		for _, rn := range t.Roles {
			r.held = append(r.held, p.roles[rn])
		}
	case c.Roles != nil:
		for _, rn := range c.Roles {
			cr, ok := p.roles[rn]
			if !ok {
				return nil, fmt.Errorf("unknown role %q%s", rn, nearestRole(rn, p.roles))
			}
			r.held = append(r.held, cr)
		}
		r.names = c.Roles
		r.who = "roles " + strings.Join(c.Roles, ",")
		if len(c.Roles) == 0 {
			r.who = "no roles"
		}
	default:
		if p.mapper == nil {
			return nil, errors.New("claims need a jwt or introspection block in the handler")
		}
		b, err := json.Marshal(c.Claims)
		if err != nil {
			return nil, fmt.Errorf("claims: %v", err)
		}
		var ac accessClaims
		if err := json.Unmarshal(b, &ac); err != nil {
			return nil, fmt.Errorf("claims: %v", err)
		}
		pr := p.mapper.principalFor("claims", &ac, c.Claims)
		r.held = pr.roles
		if pr.rolesStr != "" {
			r.names = strings.Split(pr.rolesStr, ",")
		}
		r.who = fmt.Sprintf("claims of sub %q (roles %s)", ac.Subject, pr.rolesStr)
		if pr.rolesStr == "" {
			r.who = fmt.Sprintf("claims of sub %q (no roles)", ac.Subject)
		}
	}
	return r, nil
}

// verdict is the decision on one action, as explain and test report it.
type verdict struct {
	// Decision is allow, deny, or refused (the request would be answered
	// 400 before any rule is consulted).
	Decision  string   `json:"decision"`
	Method    string   `json:"method"`
	Target    *string  `json:"target,omitempty"`
	Ref       string   `json:"ref,omitempty"`
	Caller    string   `json:"caller"`
	Token     string   `json:"token,omitempty"`
	Roles     []string `json:"roles"`
	DecidedBy string   `json:"decided_by,omitempty"`
	Status    int      `json:"status,omitempty"`
	Problem   string   `json:"problem,omitempty"`
	Handler   string   `json:"handler"`
}

// judge decides an action for the caller as the running handler would.
// An action no request could carry (an unknown method, a target on a
// method without one) is an error.
func (r *resolved) judge(a Action) (verdict, error) {
	v := verdict{Method: a.Method, Ref: a.Ref, Caller: r.who, Token: r.token, Roles: append([]string{}, r.names...), Handler: r.p.path}
	if a.HasTarget {
		t := a.Target
		v.Target = &t
	}
	if a.Method == "" {
		return v, errors.New("the method is required")
	}
	e, ok := r.p.ms.lookup(a.Method)
	if !ok {
		msg := fmt.Sprintf("unknown method %q", a.Method)
		if s := r.p.ms.nearest(a.Method, false); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return v, errors.New(msg + "; a method the module does not know is declared with extension_method")
	}
	if a.HasTarget {
		switch {
		case e.target == wire.NoTarget:
			return v, fmt.Errorf("%s has no target", a.Method)
		case a.Target == "":
			return v, errors.New("the target is empty")
		case e.target == wire.TargetRef && a.Ref != "ref/prompt" && a.Ref != "ref/resource":
			return v, fmt.Errorf("%s needs a ref: ref/prompt or ref/resource", a.Method)
		case e.target == wire.TargetURI:
			if why := wire.ShortURIProblem(a.Target); why != "" {
				v.Decision, v.Status, v.Problem = "refused", 400, "resource URI "+why
				return v, nil
			}
		}
	}
	if a.Ref != "" && e.target != wire.TargetRef {
		return v, fmt.Errorf("a ref belongs to completion/complete, not %s", a.Method)
	}
	d := decide(r.held, a)
	v.Decision, v.DecidedBy = "deny", d.Reason()
	if d.Allowed {
		v.Decision = "allow"
	}
	return v, nil
}

// action renders what was judged: tools/call "echo".
func (v verdict) action() string {
	s := v.Method
	if v.Target != nil {
		s += " " + wire.Quote(*v.Target)
	}
	if v.Ref != "" {
		s += " (" + v.Ref + ")"
	}
	return s
}

// text renders a verdict as explain prints it.
func (v verdict) text(where string) string {
	if v.Decision == "refused" {
		return fmt.Sprintf("refused (%d): %s%s\n", v.Status, v.Problem, where)
	}
	return fmt.Sprintf("%s: %s for %s%s\n  decided by: %s\n", v.Decision, v.action(), v.Caller, where, v.DecidedBy)
}

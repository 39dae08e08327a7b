package mcpauth

import (
	"sort"
	"strings"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// Rule is one allow or deny line of a role: a JSON-RPC method (or a glob
// over methods) and, optionally, globs over the method's target (the tool
// name for tools/call, the prompt name for prompts/get, the resource URI for
// resources/read, resources/subscribe and resources/unsubscribe).
//
// In both method and targets only `*` is special: it matches any run of
// characters, `/` included. Every other character, `?`, `[` and `{` among
// them, matches itself. No placeholders are expanded inside rules.
type Rule struct {
	// The JSON-RPC method or a glob over methods, such as `tools/call`,
	// `tools/*` or `*`. Required.
	Method string `json:"method,omitempty"`

	// Globs over the target of the method. A rule without targets matches
	// any target, and also methods that have no target (such as
	// `tools/list`); a rule with targets matches only requests whose target
	// matches one of them. Default: none (any target).
	Targets []string `json:"targets,omitempty"`
}

// String renders the rule as it is written in a Caddyfile, for logs and
// error messages.
func (r Rule) String() string {
	if len(r.Targets) == 0 {
		return r.Method
	}
	return r.Method + " " + strings.Join(r.Targets, " ")
}

// Role is a named set of rules. A request is allowed when some allow rule of
// one of the caller's roles matches it and no deny rule of any of the
// caller's roles does: deny beats allow, and nothing matched is denied.
type Role struct {
	// Rules that grant an action.
	Allow []Rule `json:"allow,omitempty"`

	// Rules that take an action away again, whatever any allow rule says.
	Deny []Rule `json:"deny,omitempty"`
}

// glob is a compiled pattern in which only `*` is special.
type glob struct {
	raw   string
	parts []string // the literal runs between the stars
	star  bool     // whether the pattern has at least one star
}

func compileGlob(pattern string) glob {
	g := glob{raw: pattern}
	if !strings.Contains(pattern, "*") {
		return g
	}
	g.star = true
	g.parts = strings.Split(pattern, "*")
	return g
}

// match reports whether s matches the pattern. Without backtracking
// beyond the greedy-leftmost rule, which is exact for a single wildcard kind:
// the first part is a prefix, the last a suffix, and each middle part is
// found leftmost in what remains.
func (g glob) match(s string) bool {
	if !g.star {
		return s == g.raw
	}
	first, last := g.parts[0], g.parts[len(g.parts)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	rest := s[len(first) : len(s)-len(last)]
	for _, p := range g.parts[1 : len(g.parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}

type compiledRule struct {
	role    string
	deny    bool
	src     Rule
	method  glob
	targets []glob
}

func (r *compiledRule) matches(method, target string, hasTarget bool) bool {
	if !r.method.match(method) {
		return false
	}
	if len(r.targets) == 0 {
		return true
	}
	if !hasTarget {
		return false
	}
	for _, t := range r.targets {
		if t.match(target) {
			return true
		}
	}
	return false
}

// String names the rule for logs: "role admin: deny tools/call delete_*".
func (r *compiledRule) String() string {
	verb := "allow"
	if r.deny {
		verb = "deny"
	}
	return "role " + r.role + ": " + verb + " " + r.src.String()
}

// compiledRole is a role ready for decisions.
type compiledRole struct {
	name  string
	allow []*compiledRule
	deny  []*compiledRule
}

// compileRoles compiles every role (each checked by Role.validate against
// the registry and the extension methods).
func compileRoles(roles map[string]Role, ext []ExtensionMethod) (map[string]*compiledRole, error) {
	ms, err := checkExtensionMethods(ext)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(roles))
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]*compiledRole, len(roles))
	for _, name := range names {
		cr, err := compileRoleWith(name, roles[name], ms)
		if err != nil {
			return nil, err
		}
		out[name] = cr
	}
	return out, nil
}

// compileRole compiles a role whose rules name methods of the registry.
func compileRole(name string, r Role) (*compiledRole, error) {
	return compileRoleWith(name, r, ruleMethods{})
}

func compileRoleWith(name string, r Role, ms ruleMethods) (*compiledRole, error) {
	if err := r.validate(name, ms); err != nil {
		return nil, err
	}
	cr := &compiledRole{name: name}
	for i, list := range [2][]Rule{r.Allow, r.Deny} {
		deny := i == 1
		for _, rule := range list {
			c := &compiledRule{role: name, deny: deny, src: rule, method: compileGlob(rule.Method)}
			for _, t := range rule.Targets {
				c.targets = append(c.targets, compileGlob(t))
			}
			if deny {
				cr.deny = append(cr.deny, c)
			} else {
				cr.allow = append(cr.allow, c)
			}
		}
	}
	return cr, nil
}

// Action is what a request asks to do: a JSON-RPC method and its target.
type Action = wire.Action

// Decision is the outcome of judging an action: allowed or not, and the
// rule that decided (nil when no rule matched, or when the action is a
// lifecycle method that every authenticated caller may use).
type Decision struct {
	Allowed bool
	Rule    *compiledRule
	// Lifecycle is set when the action was allowed without consulting the
	// roles (initialize, ping, notifications/*, client responses).
	Lifecycle bool
	// Implied is set when a list method was allowed because Rule lets the
	// caller use some item of that family.
	Implied string
	// Subscription is the denied resource URI of a subscriptions/listen.
	Subscription string
}

// Reason describes what decided, for logs; never the role table.
func (d Decision) Reason() string {
	switch {
	case d.Lifecycle:
		return "lifecycle"
	case d.Rule != nil && d.Implied != "":
		return d.Rule.String() + " (implies " + d.Implied + ")"
	case d.Rule != nil:
		return d.Rule.String()
	default:
		return "no rule matched"
	}
}

// decideRoles judges one (method, target) against the union of roles:
// any matching deny of any role wins; else any matching allow; else denied.
func decideRoles(roles []*compiledRole, method, target string, hasTarget bool) Decision {
	for _, r := range roles {
		for _, rule := range r.deny {
			if rule.matches(method, target, hasTarget) {
				return Decision{Rule: rule}
			}
		}
	}
	for _, r := range roles {
		for _, rule := range r.allow {
			if rule.matches(method, target, hasTarget) {
				return Decision{Allowed: true, Rule: rule}
			}
		}
	}
	return Decision{}
}

// decide judges an action for a caller with the given roles. It is the one
// decision function of the module.
func decide(roles []*compiledRole, a Action) Decision {
	switch wire.ClassOf(a.Method) {
	case wire.ClassLifecycle:
		return Decision{Allowed: true, Lifecycle: true}
	case wire.ClassTask:
		// The caller's own tasks (task ids are bound to their caller):
		// allowed unless a rule denies the method.
		for _, r := range roles {
			for _, rule := range r.deny {
				if rule.matches(a.Method, a.Target, a.HasTarget) {
					return Decision{Rule: rule}
				}
			}
		}
		return Decision{Allowed: true, Lifecycle: true}
	}
	if mi, ok := wire.Lookup(a.Method); ok && mi.JudgedAs != "" {
		// An extension method that reads a resource is judged as
		// resources/read of its URI; an explicit deny of it still wins.
		if d := decideRoles(roles, a.Method, a.Target, a.HasTarget); !d.Allowed && d.Rule != nil {
			return d
		}
		return decideRoles(roles, mi.JudgedAs, a.Target, a.HasTarget)
	}
	if a.Method == "completion/complete" {
		// An explicit deny of completion/complete still wins; otherwise the
		// caller may complete exactly what it may use.
		d := decideRoles(roles, a.Method, a.Target, a.HasTarget)
		if !d.Allowed && d.Rule != nil {
			return d
		}
		if m, ok := completionMethod(a); ok {
			return decideRoles(roles, m, a.Target, a.HasTarget)
		}
		// No ref at all: nothing is completed; the rules of the method
		// itself decide, and the backend answers.
		return d
	}
	d := decideRoles(roles, a.Method, a.Target, a.HasTarget)
	if d.Allowed || d.Rule != nil {
		return d
	}
	// A caller that may use some item of a family may list it (the reply
	// is filtered to those items) unless a rule denies the list itself.
	if use, ok := wire.ListUse(a.Method); ok {
		for _, r := range roles {
			for _, rule := range r.allow {
				if rule.method.match(use) {
					return Decision{Allowed: true, Rule: rule, Implied: a.Method}
				}
			}
		}
	}
	return d
}

// completionMethod maps a completion/complete action to the action whose
// permission it needs: prompts/get of the prompt, or resources/read of the
// resource template (matched literally against the rules).
func completionMethod(a Action) (string, bool) {
	switch a.Ref {
	case "ref/prompt":
		return "prompts/get", true
	case "ref/resource":
		return "resources/read", true
	}
	return "", false
}

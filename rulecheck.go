package mcpauth

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// This file holds what a rule may name: the registry of methods (package
// wire) and the handler's extension methods, the checks that keep a rule
// from silently matching nothing (an unknown method, a target on a method
// that has none, a deny of a method every caller may always send), and the
// "did you mean" of their errors.

// ExtensionMethod declares a JSON-RPC method that the module does not know
// (a method of an MCP extension, or the server's own), so that rules can
// name it. A rule that names an undeclared unknown method is a config
// error: far more often than not it is a typo.
type ExtensionMethod struct {
	// The method, exactly as clients send it: no globs. Not a method the
	// module knows, and not a notification (notifications are always
	// allowed). Required.
	Method string `json:"method,omitempty"`

	// What rules of the method name as targets: "name" (params.name, a
	// non-empty string, as for tools/call) or "uri" (params.uri, a resource
	// URI refused unless in canonical form, as for resources/read).
	// Default: none (rules name the method only).
	Target string `json:"target,omitempty"`
}

// Extension target kinds, as written in the config.
const (
	extTargetName = "name"
	extTargetURI  = "uri"
)

// checkExtensionMethod checks one declaration on its own.
func checkExtensionMethod(e ExtensionMethod) error {
	switch {
	case e.Method == "":
		return errors.New("method is required")
	case strings.Contains(e.Method, "*"):
		return fmt.Errorf("%q: an extension method is named exactly; globs belong in rules", e.Method)
	case strings.HasPrefix(e.Method, "notifications/"):
		return fmt.Errorf("%q: notifications are always allowed to every authenticated caller; rules cannot name them", e.Method)
	}
	if mi, ok := wire.Lookup(e.Method); ok {
		return fmt.Errorf("%q is a method the module knows (%s); only unknown methods are declared", e.Method, since(mi))
	}
	if e.Target != "" && e.Target != extTargetName && e.Target != extTargetURI {
		return fmt.Errorf("%q: target %q: want name or uri", e.Method, e.Target)
	}
	return nil
}

func since(mi *wire.Method) string {
	if wire.RevisionIndex(mi.Since) >= 0 {
		return "MCP " + mi.Since
	}
	return mi.Since
}

// checkExtensionMethods checks the declarations of a handler and returns
// what its rules may name.
func checkExtensionMethods(list []ExtensionMethod) (ruleMethods, error) {
	rm := ruleMethods{}
	for i, e := range list {
		if err := checkExtensionMethod(e); err != nil {
			return ruleMethods{}, fmt.Errorf("extension_methods[%d]: %v", i, err)
		}
		if _, dup := rm.ext[e.Method]; dup {
			return ruleMethods{}, fmt.Errorf("extension_methods[%d]: %q is declared twice", i, e.Method)
		}
		if rm.ext == nil {
			rm.ext = map[string]wire.TargetKind{}
		}
		rm.ext[e.Method] = targetKindOf(e.Target)
		rm.order = append(rm.order, e.Method)
	}
	return rm, nil
}

func targetKindOf(s string) wire.TargetKind {
	switch s {
	case extTargetName:
		return wire.TargetName
	case extTargetURI:
		return wire.TargetURI
	}
	return wire.NoTarget
}

// extensionTable is what wire.ClassifyWith needs: the declared methods
// that have a target.
func extensionTable(list []ExtensionMethod) wire.Extensions {
	var t wire.Extensions
	for _, e := range list {
		if k := targetKindOf(e.Target); k != wire.NoTarget {
			if t == nil {
				t = wire.Extensions{}
			}
			t[e.Method] = k
		}
	}
	return t
}

// ruleMethods is what a rule's method can name: the registry and the
// handler's extension methods. The zero value is the registry alone.
type ruleMethods struct {
	ext   map[string]wire.TargetKind
	order []string // ext in config order
}

// methodEntry is one method a rule can name.
type methodEntry struct {
	name     string
	target   wire.TargetKind
	class    wire.Class
	judgedAs string // the method whose rules decide it, when not itself
	ext      bool
}

var registryEntries = func() []methodEntry {
	var out []methodEntry
	for _, mi := range wire.Methods() {
		e := methodEntry{name: mi.Name, target: mi.Target, class: mi.Class, judgedAs: mi.JudgedAs}
		if mi.Name == "completion/complete" {
			// decide: the prompts/get or resources/read it completes.
			e.judgedAs = "the prompts/get or resources/read it completes"
		}
		out = append(out, e)
	}
	return out
}()

// entries lists every method, the registry's first.
func (rm ruleMethods) entries() []methodEntry {
	if len(rm.order) == 0 {
		return registryEntries
	}
	out := append([]methodEntry(nil), registryEntries...)
	for _, name := range rm.order {
		out = append(out, methodEntry{name: name, target: rm.ext[name], class: wire.ClassRule, ext: true})
	}
	return out
}

// lookup finds a method by its exact name. Every notifications/* method
// is known: it is always allowed (wire.ClassOf).
func (rm ruleMethods) lookup(name string) (methodEntry, bool) {
	if k, ok := rm.ext[name]; ok {
		return methodEntry{name: name, target: k, class: wire.ClassRule, ext: true}, true
	}
	for _, e := range registryEntries {
		if e.name == name {
			return e, true
		}
	}
	if strings.HasPrefix(name, "notifications/") {
		return methodEntry{name: name, class: wire.ClassLifecycle}, true
	}
	return methodEntry{}, false
}

// matching lists the methods a rule's method (a name or a glob) matches.
func (rm ruleMethods) matching(pattern string) []methodEntry {
	if !strings.Contains(pattern, "*") {
		if e, ok := rm.lookup(pattern); ok {
			return []methodEntry{e}
		}
		return nil
	}
	g := compileGlob(pattern)
	var out []methodEntry
	for _, e := range rm.entries() {
		if g.match(e.name) {
			out = append(out, e)
		}
	}
	return out
}

// ruleError is the problem of one rule, or of a role as a whole (index
// -1), with the rule's place in the role: the JSON config names it by
// index, the Caddyfile parser by its line.
type ruleError struct {
	role  string
	deny  bool
	index int
	rule  Rule
	msg   string
}

func (e *ruleError) verb() string {
	if e.deny {
		return "deny"
	}
	return "allow"
}

// Error names the rule by its place in the JSON config:
// role "admin": deny[0] "tool/call delete_*": unknown method …
func (e *ruleError) Error() string {
	switch {
	case e.index < 0:
		return fmt.Sprintf("role %q %s", e.role, e.msg)
	case e.rule.Method == "":
		return fmt.Sprintf("role %q: %s[%d]: %s", e.role, e.verb(), e.index, e.msg)
	}
	return fmt.Sprintf("role %q: %s[%d] %q: %s", e.role, e.verb(), e.index, e.rule.String(), e.msg)
}

// caddyfile names the rule as its Caddyfile line reads:
// role "admin": deny tool/call delete_*: unknown method …
func (e *ruleError) caddyfile() string {
	if e.index < 0 {
		return e.Error()
	}
	return fmt.Sprintf("role %q: %s %s: %s", e.role, e.verb(), e.rule.String(), e.msg)
}

// checkRule returns the problem of a rule whose method and targets are
// non-empty, or "". A rule must be able to take effect: its method names
// a method the handler knows or is a glob matching one; targets only on
// a method that has a target; a deny not only of methods every caller
// may always send, an allow not only of methods decided by the rules of
// another.
func (rm ruleMethods) checkRule(deny bool, r Rule) string {
	verb := "allow"
	if deny {
		verb = "deny"
	}
	matched := rm.matching(r.Method)
	if len(matched) == 0 {
		return rm.unknownMethod(verb, r)
	}
	if len(r.Targets) > 0 {
		var withTarget []methodEntry
		for _, e := range matched {
			if e.target != wire.NoTarget {
				withTarget = append(withTarget, e)
			}
		}
		if len(withTarget) == 0 {
			return noTarget(verb, r, matched)
		}
		matched = withTarget
		if why := uriTargets(r, matched); why != "" {
			return why
		}
	}
	exact := !strings.Contains(r.Method, "*")
	if deny {
		for _, e := range matched {
			if e.class != wire.ClassLifecycle {
				return ""
			}
		}
		if exact {
			if strings.HasPrefix(matched[0].name, "notifications/") {
				return fmt.Sprintf("can never take effect: %s is a notification, and every authenticated caller may always send notifications", matched[0].name)
			}
			return fmt.Sprintf("can never take effect: %s is a lifecycle method, which every authenticated caller may always send", matched[0].name)
		}
		return fmt.Sprintf("can never take effect: %s matches only lifecycle methods (%s), which every authenticated caller may always send", r.Method, nameList(matched))
	}
	for _, e := range matched {
		if e.judgedAs == "" {
			return ""
		}
	}
	e := matched[0]
	if !exact {
		return fmt.Sprintf("can never take effect: %s matches only methods decided by the rules of others (%s)", r.Method, nameList(matched))
	}
	if !strings.Contains(e.judgedAs, " ") {
		// skills/get, resources/directory/read: resources/read of the URI.
		fix := Rule{Method: e.judgedAs, Targets: r.Targets}
		return fmt.Sprintf("can never take effect: %s is decided by the rules of %s of the same target (did you mean %q?)", e.name, e.judgedAs, verb+" "+fix.String())
	}
	return fmt.Sprintf("can never take effect: %s is decided by the rules of %s", e.name, e.judgedAs)
}

// unknownMethod explains a method that matches nothing.
func (rm ruleMethods) unknownMethod(verb string, r Rule) string {
	glob := strings.Contains(r.Method, "*")
	msg := fmt.Sprintf("unknown method %q", r.Method)
	if glob {
		msg = fmt.Sprintf("%q matches no method the module knows", r.Method)
	}
	if s := rm.nearest(r.Method, glob); s != "" {
		fix := Rule{Method: s, Targets: r.Targets}
		return msg + fmt.Sprintf(" (did you mean %q?)", verb+" "+fix.String())
	}
	if !glob && !strings.Contains(r.Method, "/") || strings.Contains(r.Method, "://") {
		// A target where the method belongs: `allow echo`.
		var fixes []string
		if strings.Contains(r.Method, ":") {
			fixes = append(fixes, verb+" resources/read "+r.String())
		} else {
			fixes = append(fixes, verb+" tools/call "+r.String(), verb+" prompts/get "+r.String())
		}
		return msg + fmt.Sprintf(" (a rule names the method first, then targets: did you mean %s?)", quoteOr(fixes))
	}
	if glob {
		return msg
	}
	return msg + "; a method the module does not know must be declared: extension_method " + r.Method + " [name|uri] (JSON: extension_methods)"
}

// noTarget explains targets on methods that have none.
func noTarget(verb string, r Rule, matched []methodEntry) string {
	if !strings.Contains(r.Method, "*") {
		msg := fmt.Sprintf("%s has no target, so a rule with targets can never match it", matched[0].name)
		if use, ok := wire.ListUse(matched[0].name); ok {
			fix := Rule{Method: use, Targets: r.Targets}
			msg += fmt.Sprintf(" (did you mean %q?)", verb+" "+fix.String())
		}
		return msg
	}
	return fmt.Sprintf("%s matches only methods without a target (%s), so a rule with targets can never match", r.Method, nameList(matched))
}

func nameList(es []methodEntry) string {
	names := make([]string, 0, 4)
	for i, e := range es {
		if i == 3 {
			names = append(names, "…")
			break
		}
		names = append(names, e.name)
	}
	return strings.Join(names, ", ")
}

func quoteOr(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, " or ")
}

// nearest returns the known method (or, for a glob, the method or family
// glob such as "tools/*") closest to s, when it is near enough to be a
// typo of it; else "".
func (rm ruleMethods) nearest(s string, glob bool) string {
	var cands []string
	seen := map[string]bool{}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			cands = append(cands, c)
		}
	}
	for _, e := range rm.entries() {
		add(e.name)
		if glob {
			for i := 0; i < len(e.name); i++ {
				if e.name[i] == '/' {
					add(e.name[:i+1] + "*")
				}
			}
		}
	}
	return nearestOf(s, cands)
}

// nearestOf returns the candidate closest to s within a typo's distance:
// one edit for short words, up to three for long ones.
func nearestOf(s string, cands []string) string {
	limit := 1 + len(s)/6
	if limit > 3 {
		limit = 3
	}
	best, bestD := "", limit+1
	for _, c := range cands {
		if d := editDistance(s, c); d < bestD && d > 0 {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes, each one
// edit ("tools/lsit" is one edit from "tools/list").
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 30 // no method is that long
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// nearestRole suggests a role name for a misspelled one.
func nearestRole(name string, roles map[string]*compiledRole) string {
	names := make([]string, 0, len(roles))
	for n := range roles {
		names = append(names, n)
	}
	sort.Strings(names)
	if s := nearestOf(name, names); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// uriTargets refuses, for a rule whose methods all take a resource URI,
// a target no request can ever match: requests name resources in
// canonical form only (wire.URIProblem), so an exact target must be
// canonical, and a glob's scheme and host, where it spells them out,
// lower case.
func uriTargets(r Rule, matched []methodEntry) string {
	for _, e := range matched {
		if e.target != wire.TargetURI {
			return ""
		}
	}
	for _, t := range r.Targets {
		star := strings.IndexByte(t, '*')
		if star < 0 {
			if why := wire.URIProblem(t); why != "" {
				return fmt.Sprintf("target %q can never match: requests name resources in canonical form, and it %s", t, why)
			}
			continue
		}
		prefix := t[:star]
		scheme, rest, ok := strings.Cut(prefix, ":")
		if !ok {
			continue
		}
		lower := scheme
		if host, _, whole := strings.Cut(strings.TrimPrefix(rest, "//"), "/"); strings.HasPrefix(rest, "//") && whole {
			lower += host
		}
		if lower != strings.ToLower(lower) {
			return fmt.Sprintf("target %q can never match: requests name resources in canonical form, with the scheme and host in lower case", t)
		}
	}
	return ""
}

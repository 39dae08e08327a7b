package mcpauth

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "tools/call", true},
		{"tools/*", "tools/call", true},
		{"tools/*", "tools/", true},
		{"tools/*", "tool/call", false},
		{"delete_*", "delete_db", true},
		{"delete_*", "undelete_db", false},
		{"*_db", "delete_db", true},
		{"file:///docs/*", "file:///docs/a/b/c.md", true},
		{"file:///docs/*", "file:///private/x", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"get_?", "get_x", false}, // ? is literal
		{"get_?", "get_?", true},
		{"[ab]", "a", false}, // [ is literal
		{"[ab]", "[ab]", true},
		{"{x,y}", "x", false}, // { is literal
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := compileGlob(tt.pattern).match(tt.s); got != tt.want {
			t.Errorf("glob %q match %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// globOracle is the obvious regexp reading of a star-only glob.
func globOracle(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^(?s:` + strings.Join(parts, ".*") + `)$`)
}

func FuzzGlobMatchesOracle(f *testing.F) {
	for _, s := range [][2]string{{"a*b", "aXb"}, {"*a*a*", "aa"}, {"x*", "y"}, {"**", ""}, {"ab*ba", "aba"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 || !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			return // rules and targets are valid UTF-8: the classifier refuses anything else
		}
		got := compileGlob(pattern).match(s)
		want := globOracle(pattern).MatchString(s)
		if got != want {
			t.Fatalf("glob %q match %q = %v, oracle says %v", pattern, s, got, want)
		}
	})
}

func mustRoles(t testing.TB, roles map[string]Role, names ...string) []*compiledRole {
	t.Helper()
	var out []*compiledRole
	for _, n := range names {
		cr, err := compileRole(n, roles[n])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cr)
	}
	return out
}

var testRoles = map[string]Role{
	"admin": {
		Allow: []Rule{{Method: "*"}},
		Deny:  []Rule{{Method: "tools/call", Targets: []string{"delete_*"}}},
	},
	"reader": {
		Allow: []Rule{
			{Method: "tools/list"},
			{Method: "tools/call", Targets: []string{"search_docs", "get_*"}},
			{Method: "resources/read", Targets: []string{"file:///docs/*"}},
			{Method: "prompts/get", Targets: []string{"*"}},
		},
	},
	"deleter": {
		Allow: []Rule{{Method: "tools/call", Targets: []string{"delete_*"}}},
	},
	"no-list": {
		Deny: []Rule{{Method: "tools/list"}},
	},
	"no-secrets": {
		Deny: []Rule{{Method: "*", Targets: []string{"*secret*"}}},
	},
}

func TestDecide(t *testing.T) {
	call := func(m, target string) Action { return Action{Method: m, Target: target, HasTarget: target != ""} }
	tests := []struct {
		name   string
		roles  []string
		action Action
		want   bool
		rule   string
	}{
		{"admin any tool", []string{"admin"}, call("tools/call", "search_docs"), true, "role admin: allow *"},
		{"admin deny beats allow", []string{"admin"}, call("tools/call", "delete_db"), false, "role admin: deny tools/call delete_*"},
		{"admin list", []string{"admin"}, call("tools/list", ""), true, "role admin: allow *"},
		{"reader allowed tool", []string{"reader"}, call("tools/call", "get_weather"), true, "role reader: allow tools/call search_docs get_*"},
		{"reader other tool", []string{"reader"}, call("tools/call", "run_shell"), false, "no rule matched"},
		{"reader resource", []string{"reader"}, call("resources/read", "file:///docs/a.md"), true, "role reader: allow resources/read file:///docs/*"},
		{"reader private resource", []string{"reader"}, call("resources/read", "file:///private/x"), false, "no rule matched"},
		{"reader subscribe needs its own rule", []string{"reader"}, call("resources/subscribe", "file:///docs/a.md"), false, "no rule matched"},
		{"reader logging needs a rule", []string{"reader"}, call("logging/setLevel", ""), false, "no rule matched"},
		{"reader tasks allowed on its own tasks", []string{"reader"}, call("tasks/list", ""), true, "lifecycle"},
		{"a deny of a task method wins", []string{"admin", "no-list"}, call("tasks/cancel", ""), true, "lifecycle"},
		{"lifecycle initialize", []string{"reader"}, call("initialize", ""), true, "lifecycle"},
		{"lifecycle ping", nil, call("ping", ""), true, "lifecycle"},
		{"lifecycle server/discover", nil, call("server/discover", ""), true, "lifecycle"},
		{"lifecycle subscriptions/listen", nil, call("subscriptions/listen", ""), true, "lifecycle"},
		{"lifecycle notification", nil, call("notifications/initialized", ""), true, "lifecycle"},
		{"no roles", nil, call("tools/list", ""), false, "no rule matched"},
		{"union of allows", []string{"reader", "deleter"}, call("tools/call", "delete_x"), true, "role deleter: allow tools/call delete_*"},
		{"any role's deny wins", []string{"admin", "deleter"}, call("tools/call", "delete_x"), false, "role admin: deny tools/call delete_*"},
		{"deny with targets skips untargeted", []string{"admin", "no-secrets"}, call("tools/list", ""), true, "role admin: allow *"},
		{"deny with targets matches target", []string{"admin", "no-secrets"}, call("prompts/get", "top_secret"), false, "role no-secrets: deny * *secret*"},
		{"completion of allowed prompt", []string{"reader"}, Action{Method: "completion/complete", Target: "p", HasTarget: true, Ref: "ref/prompt"}, true, "role reader: allow prompts/get *"},
		{"completion of resource template, literal", []string{"reader"}, Action{Method: "completion/complete", Target: "file:///docs/{path}", HasTarget: true, Ref: "ref/resource"}, true, "role reader: allow resources/read file:///docs/*"},
		{"completion of denied template", []string{"reader"}, Action{Method: "completion/complete", Target: "file:///private/{path}", HasTarget: true, Ref: "ref/resource"}, false, "no rule matched"},
		{"completion explicit deny wins", []string{"admin", "no-secrets"}, Action{Method: "completion/complete", Target: "secret", HasTarget: true, Ref: "ref/prompt"}, false, "role no-secrets: deny * *secret*"},
		{"list implied by a use rule", []string{"deleter"}, call("tools/list", ""), true, "role deleter: allow tools/call delete_* (implies tools/list)"},
		{"templates list implied by resources/read", []string{"reader"}, call("resources/templates/list", ""), true, "role reader: allow resources/read file:///docs/* (implies resources/templates/list)"},
		{"list not implied by another family", []string{"deleter"}, call("prompts/list", ""), false, "no rule matched"},
		{"explicit deny of a list wins", []string{"deleter", "no-list"}, call("tools/list", ""), false, "role no-list: deny tools/list"},
		{"completion does not inherit allow *", []string{"admin"}, Action{Method: "completion/complete", Target: "delete_x", HasTarget: true, Ref: "ref/prompt"}, true, "role admin: allow *"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(mustRoles(t, testRoles, tt.roles...), tt.action)
			if d.Allowed != tt.want || d.Reason() != tt.rule {
				t.Errorf("decide = %v by %q, want %v by %q", d.Allowed, d.Reason(), tt.want, tt.rule)
			}
		})
	}
}

func TestCompileRoleErrors(t *testing.T) {
	if _, err := compileRole("empty", Role{}); err == nil || !strings.Contains(err.Error(), `role "empty" has no rules`) {
		t.Errorf("empty role: err = %v", err)
	}
	if _, err := compileRole("r", Role{Allow: []Rule{{}}}); err == nil || !strings.Contains(err.Error(), "method is required") {
		t.Errorf("rule without method: err = %v", err)
	}
	if _, err := compileRole("r", Role{Deny: []Rule{{Method: "x", Targets: []string{""}}}}); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty target: err = %v", err)
	}
}

func TestRuleValidation(t *testing.T) {
	ext := []ExtensionMethod{{Method: "x/custom"}, {Method: "x/named", Target: "name"}, {Method: "x/read", Target: "uri"}}
	r := func(m string, targets ...string) Rule { return Rule{Method: m, Targets: targets} }
	tests := []struct {
		deny bool
		rule Rule
		ext  bool
		want string // "" when valid
	}{
		{false, r("tools/call"), false, ""},
		{false, r("*"), false, ""},
		{true, r("*", "*secret*"), false, ""},
		{false, r("tools/*", "x"), false, ""},
		{true, r("tasks/get"), false, ""},
		{true, r("tasks/*"), false, ""},
		{false, r("ping"), false, ""}, // no effect beyond what lifecycle gives, and no harm
		{true, r("skills/get", "file:///x"), false, ""},
		{true, r("completion/complete"), false, ""},
		{true, r("tools/list"), false, ""},
		// The misspellings.
		{true, r("tool/call", "delete_*"), false, `unknown method "tool/call" (did you mean "deny tools/call delete_*"?)`},
		{false, r("tools/lsit"), false, `unknown method "tools/lsit" (did you mean "allow tools/list"?)`},
		{false, r("prompt/get", "summarize"), false, `unknown method "prompt/get" (did you mean "allow prompts/get summarize"?)`},
		{false, r("echo"), false, `unknown method "echo" (a rule names the method first, then targets: did you mean "allow tools/call echo" or "allow prompts/get echo"?)`},
		{false, r("file:///docs/*"), false, `"file:///docs/*" matches no method the module knows (a rule names the method first, then targets: did you mean "allow resources/read file:///docs/*"?)`},
		{false, r("tools/list", "echo"), false, `tools/list has no target, so a rule with targets can never match it (did you mean "allow tools/call echo"?)`},
		{false, r("resources/templates/list", "file:///*"), false, `(did you mean "allow resources/read file:///*"?)`},
		{false, r("logging/*", "x"), false, `logging/* matches only methods without a target (logging/setLevel), so a rule with targets can never match`},
		{false, r("Tools/Call", "x"), false, `(did you mean "allow tools/call x"?)`},
		{false, r("tool/*"), false, `"tool/*" matches no method the module knows (did you mean "allow tools/*"?)`},
		{false, r("zzz/*"), false, `"zzz/*" matches no method the module knows`},
		{false, r("x/custom"), false, `unknown method "x/custom"; a method the module does not know must be declared: extension_method x/custom [name|uri]`},
		// Denies that can never take effect.
		{true, r("ping"), false, "can never take effect: ping is a lifecycle method, which every authenticated caller may always send"},
		{true, r("initialize"), false, "can never take effect: initialize is a lifecycle method"},
		{true, r("notifications/*"), false, "can never take effect: notifications/* matches only lifecycle methods (notifications/initialized, notifications/cancelled, notifications/progress, …)"},
		{true, r("notifications/whatever"), false, "can never take effect: notifications/whatever is a notification"},
		{true, r("subscriptions/listen"), false, "can never take effect: subscriptions/listen is a lifecycle method"},
		// Allows decided by the rules of another method.
		{false, r("skills/get", "file:///x"), false, `can never take effect: skills/get is decided by the rules of resources/read of the same target (did you mean "allow resources/read file:///x"?)`},
		{false, r("completion/complete"), false, "can never take effect: completion/complete is decided by the rules of the prompts/get or resources/read it completes"},
		{false, r("skills/*", "file:///x"), false, "can never take effect: skills/* matches only methods decided by the rules of others (skills/get)"},
		// Extension methods, once declared.
		{false, r("x/custom"), true, ""},
		{true, r("x/*"), true, ""},
		{false, r("x/custom", "a"), true, "x/custom has no target, so a rule with targets can never match it"},
		{false, r("x/named", "a*"), true, ""},
		{true, r("x/read", "file:///*"), true, ""},
		{true, r("x/*", "*secret*"), true, ""},
		{false, r("x/custm"), true, `unknown method "x/custm" (did you mean "allow x/custom"?)`},
	}
	for _, tt := range tests {
		var ms ruleMethods
		if tt.ext {
			var err error
			if ms, err = checkExtensionMethods(ext); err != nil {
				t.Fatal(err)
			}
		}
		got := ms.checkRule(tt.deny, tt.rule)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) || tt.want != "" && got == "" {
			t.Errorf("deny=%v %q (ext %v): got %q, want …%s…", tt.deny, tt.rule.String(), tt.ext, got, tt.want)
		}
	}
}

func TestRoleValidateNamesTheRule(t *testing.T) {
	role := Role{Allow: []Rule{{Method: "tools/list"}}, Deny: []Rule{{Method: "tools/call", Targets: []string{"x"}}, {Method: "tool/call", Targets: []string{"delete_*"}}}}
	err := role.validate("admin", ruleMethods{})
	want := `role "admin": deny[1] "tool/call delete_*": unknown method "tool/call" (did you mean "deny tools/call delete_*"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	re := err.(*ruleError)
	if got := re.caddyfile(); got != `role "admin": deny tool/call delete_*: unknown method "tool/call" (did you mean "deny tools/call delete_*"?)` {
		t.Errorf("caddyfile form %q", got)
	}
	// Provision makes the same checks (a JSON config).
	perr := provisionErr(t, func(m *MCPAuth) { m.Roles = map[string]Role{"reader": testRoles["reader"], "admin": role} })
	if perr == nil || perr.Error() != want {
		t.Errorf("provision: %v", perr)
	}
	// The extension methods a JSON config declares.
	perr = provisionErr(t, func(m *MCPAuth) {
		m.Roles = map[string]Role{"reader": {Allow: []Rule{{Method: "x/custom"}}}}
	})
	if perr == nil || !strings.Contains(perr.Error(), `role "reader": allow[0] "x/custom": unknown method "x/custom"`) {
		t.Errorf("provision without the declaration: %v", perr)
	}
	if err := provisionErr(t, func(m *MCPAuth) {
		m.Roles = map[string]Role{"reader": {Allow: []Rule{{Method: "x/custom"}}}}
		m.ExtensionMethods = []ExtensionMethod{{Method: "x/custom"}}
	}); err != nil {
		t.Errorf("provision with the declaration: %v", err)
	}
}

func TestExtensionMethodChecks(t *testing.T) {
	tests := []struct {
		list []ExtensionMethod
		want string
	}{
		{[]ExtensionMethod{{}}, "extension_methods[0]: method is required"},
		{[]ExtensionMethod{{Method: "tools/call"}}, `extension_methods[0]: "tools/call" is a method the module knows (MCP 2024-11-05); only unknown methods are declared`},
		{[]ExtensionMethod{{Method: "skills/get"}}, `"skills/get" is a method the module knows (skills (TypeScript SDK v2))`},
		{[]ExtensionMethod{{Method: "x/*"}}, "globs belong in rules"},
		{[]ExtensionMethod{{Method: "notifications/x"}}, "notifications are always allowed"},
		{[]ExtensionMethod{{Method: "x/y", Target: "path"}}, `"x/y": target "path": want name or uri`},
		{[]ExtensionMethod{{Method: "x/y"}, {Method: "x/y", Target: "uri"}}, `extension_methods[1]: "x/y" is declared twice`},
	}
	for _, tt := range tests {
		_, err := checkExtensionMethods(tt.list)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want …%s…", tt.list, err, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"a", "", 1}, {"tools/lsit", "tools/list", 1}, {"tool/call", "tools/call", 1},
		{"prompt/get", "prompts/get", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}, {"abc", "ca", 3},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
	}
}

// TestDecideExtensionMethods: a declared method is decided by its rules,
// its target included, like any other.
func TestDecideExtensionMethods(t *testing.T) {
	roles, err := compileRoles(map[string]Role{
		"r": {Allow: []Rule{{Method: "x/*"}}, Deny: []Rule{{Method: "x/read", Targets: []string{"file:///private/*"}}}},
	}, []ExtensionMethod{{Method: "x/read", Target: "uri"}, {Method: "x/other"}})
	if err != nil {
		t.Fatal(err)
	}
	held := []*compiledRole{roles["r"]}
	for _, tt := range []struct {
		a    Action
		want bool
	}{
		{Action{Method: "x/other"}, true},
		{Action{Method: "x/read", Target: "file:///docs/a", HasTarget: true}, true},
		{Action{Method: "x/read", Target: "file:///private/a", HasTarget: true}, false},
	} {
		if d := decide(held, tt.a); d.Allowed != tt.want {
			t.Errorf("%+v: allowed %v by %s", tt.a, d.Allowed, d.Reason())
		}
	}
}

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

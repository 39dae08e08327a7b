package mcpauth

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyTestsExample runs the shipped example's policy tests.
func TestPolicyTestsExample(t *testing.T) {
	var out bytes.Buffer
	failed, err := runPolicyTests(&out, "examples/policy_test.json", "", "", true)
	if err != nil || failed != 0 {
		t.Fatalf("failed %d, err %v:\n%s", failed, err, out.String())
	}
	if !strings.HasSuffix(out.String(), "PASS: 16/16\n") || strings.Count(out.String(), ": PASS: ") != 16 {
		t.Errorf("output:\n%s", out.String())
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicyTestsReportMismatches: every way a case can fail is reported
// with its line, what was wanted and what was got, and counted.
func TestPolicyTestsReportMismatches(t *testing.T) {
	dir := t.TempDir()
	cfg := exampleConfig(t)
	tests := writeFile(t, dir, "t.json", `{
	"cases": [
		{"name": "right", "token": "alice", "method": "tools/call", "target": "x", "want": "allow"},
		{"name": "wrong decision", "token": "ci-bot", "method": "tools/call", "target": "delete_db", "want": "allow"},
		{"name": "wrong rule",
		 "roles": ["admin"], "method": "tools/call", "target": "delete_db", "want": "deny", "decided_by": "role admin: allow *"},
		{"name": "not refused", "token": "ci-bot", "method": "resources/read", "target": "file:///docs/a", "want": "refused"},
		{"token": "alice", "method": "tools/lsit", "want": "deny"},
		{"name": "unknown token", "token": "nobody", "method": "ping", "want": "allow"},
		{"name": "arguments", "token": "alice", "method": "tools/call", "target": "x", "arguments": {"a": 1}, "want": "allow"},
		{"name": "two callers", "token": "alice", "roles": ["admin"], "method": "ping", "want": "allow"},
		{"name": "bad want", "token": "alice", "method": "ping", "want": "yes"}
	]
}
`)
	var out bytes.Buffer
	failed, err := runPolicyTests(&out, tests, cfg, "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := tests + `:4: FAIL: wrong decision
    tools/call "delete_db" for token "ci-bot" (roles reader)
    want: allow
    got:  deny, decided by no rule matched
` + tests + `:5: FAIL: wrong rule
    tools/call "delete_db" for roles admin
    want: deny, decided by role admin: allow *
    got:  deny, decided by role admin: deny tools/call delete_*
` + tests + `:7: FAIL: not refused
    resources/read "file:///docs/a" for token "ci-bot" (roles reader)
    want: refused
    got:  allow, decided by role reader: allow resources/read file:///docs/*
` + tests + `:8: ERROR: case 5
    unknown method "tools/lsit" (did you mean "tools/list"?); a method the module does not know is declared with extension_method
` + tests + `:9: ERROR: unknown token
    no token named "nobody" in the config
` + tests + `:10: ERROR: arguments
    arguments: reserved for rules over tool arguments, which this version does not have
` + tests + `:11: ERROR: two callers
    name the caller once: token, roles or claims
` + tests + `:12: ERROR: bad want
    want: "yes" is not allow, deny or refused
PASS: 1/9
FAIL: 8/9
`
	if failed != 8 || out.String() != want {
		t.Errorf("failed %d; got:\n%s\nwant:\n%s", failed, out.String(), want)
	}
}

func TestPolicyTestFileErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := exampleConfig(t)
	tests := []struct{ text, want string }{
		{`[]`, ":1: want a JSON object"},
		{`{"cases": []}`, ": no cases"},
		{`{"config": "x"}`, ": no cases"},
		{"{\n\"cases\": [\n{\"token\": \"a\", \"method\": \"ping\", \"want\": \"allow\"},\n{\"token\": \"a\", \"taget\": \"x\"}]}", `:4: case 2: json: unknown field "taget"`},
		{"{\"cases\": [], \"extra\": 1}", `unknown field "extra"`},
		{"{\"cases\": [", ":1: "},
	}
	for _, tt := range tests {
		p := writeFile(t, dir, "t.json", tt.text)
		var out bytes.Buffer
		_, err := runPolicyTests(&out, p, cfg, "", false)
		if err == nil || !strings.HasPrefix(err.Error(), p) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %s…%s…", tt.text, err, p, tt.want)
		}
	}
	// No config in the file and no --config.
	p := writeFile(t, dir, "t.json", `{"cases": [{"token": "a", "method": "ping", "want": "allow"}]}`)
	if _, err := runPolicyTests(new(bytes.Buffer), p, "", "", false); err == nil || !strings.Contains(err.Error(), `no config: set "config" in the file or pass --config`) {
		t.Errorf("err = %v", err)
	}
	// A config that does not load is an error, not a failed case.
	bad := writeFile(t, dir, "Caddyfile", "http://127.0.0.1:1 {\n\tmcp_auth {\n\t\ttoken a s r\n\t\trole r {\n\t\t\tdeny ping\n\t\t}\n\t}\n}\n")
	p = writeFile(t, dir, "t.json", `{"config": "Caddyfile", "cases": [{"token": "a", "method": "ping", "want": "allow"}]}`)
	if _, err := runPolicyTests(new(bytes.Buffer), p, "", "", false); err == nil || !strings.Contains(err.Error(), bad+":5") {
		t.Errorf("err = %v, want the Caddyfile's line", err)
	}
}

package mcpauth

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCmdHashToken(t *testing.T) {
	var out bytes.Buffer
	if err := cmdHashToken(strings.NewReader("abc\n"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n" {
		t.Errorf("got %q", got)
	}
	for _, in := range []string{"", "\n", "a b\n", "a\tb"} {
		if err := cmdHashToken(strings.NewReader(in), &out); err == nil {
			t.Errorf("hash-token accepted %q", in)
		}
	}
}

func TestCmdNewToken(t *testing.T) {
	var a, b bytes.Buffer
	if err := cmdNewToken(&a); err != nil {
		t.Fatal(err)
	}
	_ = cmdNewToken(&b)
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	if len(lines) != 2 || len(lines[0]) != 43 || lines[1] != hashToken(lines[0]) {
		t.Errorf("new-token printed %q", a.String())
	}
	if a.String() == b.String() {
		t.Error("two new tokens are equal")
	}
}

// exampleConfig writes Caddyfile.example without its token_file (which
// does not exist here) and returns its path.
func exampleConfig(t *testing.T) string {
	t.Helper()
	example, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(example), "token_file /etc/caddy/mcp-tokens", "", 1)
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCmdExplain(t *testing.T) {
	cfg := exampleConfig(t)
	tok := func(name string) caller { return caller{Token: name} }
	tests := []struct {
		who    caller
		a      Action
		want   string
		code   int
		errTxt string
	}{
		{tok("alice"), Action{Method: "tools/call", Target: "delete_db", HasTarget: true}, "deny: tools/call \"delete_db\" for token \"alice\" (roles admin)\n  decided by: role admin: deny tools/call delete_*\n", 1, ""},
		{tok("alice"), Action{Method: "tools/call", Target: "search_docs", HasTarget: true}, "allow: tools/call \"search_docs\" for token \"alice\" (roles admin)\n  decided by: role admin: allow *\n", 0, ""},
		{tok("ci-bot"), Action{Method: "resources/read", Target: "file:///docs/a.md", HasTarget: true}, "allow: resources/read \"file:///docs/a.md\" for token \"ci-bot\" (roles reader)\n  decided by: role reader: allow resources/read file:///docs/*\n", 0, ""},
		{tok("ci-bot"), Action{Method: "resources/read", Target: "file:///docs/../etc/passwd", HasTarget: true}, "refused (400): resource URI is not in normal form (dot segment in path)\n", 1, ""},
		{tok("ci-bot"), Action{Method: "logging/setLevel"}, "deny: logging/setLevel for token \"ci-bot\" (roles reader)\n  decided by: no rule matched\n", 1, ""},
		{caller{Roles: []string{"reader"}}, Action{Method: "prompts/get", Target: "p", HasTarget: true}, "allow: prompts/get \"p\" for roles reader\n  decided by: role reader: allow prompts/get *\n", 0, ""},
		{caller{Roles: []string{}}, Action{Method: "ping"}, "allow: ping for no roles\n  decided by: lifecycle\n", 0, ""},
		{caller{Roles: []string{"admin"}}, Action{Method: "completion/complete", Target: "delete_x", HasTarget: true, Ref: "ref/prompt"}, "allow: completion/complete \"delete_x\" (ref/prompt) for roles admin\n  decided by: role admin: allow *\n", 0, ""},
		{tok("nobody"), Action{Method: "tools/list"}, "", 2, `no token named "nobody"`},
		{tok("alice"), Action{}, "", 2, "--method and one of"},
		{caller{}, Action{Method: "ping"}, "", 2, "--method and one of"},
		{caller{Token: "alice", Roles: []string{"admin"}}, Action{Method: "ping"}, "", 2, "--method and one of"},
		{caller{Roles: []string{"reeder"}}, Action{Method: "ping"}, "", 2, `unknown role "reeder" (did you mean "reader"?)`},
		{tok("alice"), Action{Method: "tools/lsit"}, "", 2, `unknown method "tools/lsit" (did you mean "tools/list"?)`},
		{tok("alice"), Action{Method: "tools/list", Target: "echo", HasTarget: true}, "", 2, "tools/list has no target"},
		{tok("alice"), Action{Method: "completion/complete", Target: "x", HasTarget: true}, "", 2, "needs a ref"},
		{caller{Claims: map[string]any{"sub": "u"}}, Action{Method: "ping"}, "", 2, "claims need a jwt or introspection block"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code, err := cmdExplain(&out, cfg, "", 0, tt.who, tt.a, false)
		if tt.errTxt != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errTxt) || code != 2 {
				t.Errorf("%+v %+v: code %d, err = %v, want 2 and …%s…", tt.who, tt.a, code, err, tt.errTxt)
			}
			continue
		}
		if err != nil || out.String() != tt.want || code != tt.code {
			t.Errorf("got %q, code %d (%v)\nwant %q, code %d", out.String(), code, err, tt.want, tt.code)
		}
	}
}

func TestCmdExplainJSON(t *testing.T) {
	cfg := exampleConfig(t)
	var out bytes.Buffer
	code, err := cmdExplain(&out, cfg, "caddyfile", 0, caller{Token: "alice"}, Action{Method: "tools/call", Target: "delete_db", HasTarget: true}, true)
	if err != nil || code != 1 {
		t.Fatalf("code %d, err %v", code, err)
	}
	var v map[string]any
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	want := map[string]any{
		"decision": "deny", "method": "tools/call", "target": "delete_db", "caller": `token "alice" (roles admin)`,
		"token": "alice", "roles": []any{"admin"}, "decided_by": "role admin: deny tools/call delete_*",
		"handler": "apps.http.servers.srv0.routes[0].handle[0].routes[0].handle[0]",
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got  %v\nwant %v", v, want)
	}
}

func TestCmdExplainClaims(t *testing.T) {
	raw, err := os.ReadFile("testdata/caddyfile_adapt/oauth.caddyfiletest")
	if err != nil {
		t.Fatal(err)
	}
	in, _, _ := strings.Cut(string(raw), "\n----------\n")
	cfg := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(cfg, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		claims map[string]any
		want   string
		code   int
	}{
		{map[string]any{"sub": "u1", "scope": "mcp:read"}, "allow: tools/call \"search_x\" for claims of sub \"u1\" (roles reader)\n  decided by: role reader: allow tools/call search_*\n", 0},
		{map[string]any{"sub": "u2", "realm_access": map[string]any{"roles": []any{"admin"}}}, "allow: tools/call \"search_x\" for claims of sub \"u2\" (roles admin)\n  decided by: role admin: allow *\n", 0},
		{map[string]any{"sub": "u3", "scope": "openid"}, "deny: tools/call \"search_x\" for claims of sub \"u3\" (no roles)\n  decided by: no rule matched\n", 1},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code, err := cmdExplain(&out, cfg, "", 0, caller{Claims: tt.claims}, Action{Method: "tools/call", Target: "search_x", HasTarget: true}, false)
		if err != nil || out.String() != tt.want || code != tt.code {
			t.Errorf("%v: got %q, code %d (%v)\nwant %q", tt.claims, out.String(), code, err, tt.want)
		}
	}
}

func TestCmdExplainErrorsNameTheHandler(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# c\nbob sha256:"+strings.Repeat("ab", 32)+" nobody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "caddy.json")
	doc := `{"apps":{"http":{"servers":{"a":{"listen":[":1"],"routes":[{"handle":[{"handler":"mcp_auth","token_files":["` + tokens + `"],"roles":{"r":{"allow":[{"method":"*"}]}}}]}]}}}}}`
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err := cmdExplain(&out, cfg, "", 0, caller{Token: "bob"}, Action{Method: "ping"}, false)
	want := `mcp_auth at apps.http.servers.a.routes[0].handle[0]: token "bob": unknown role "nobody" (token file ` + tokens + `:2)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	// A rule of a JSON config: the error names it by index.
	bad := strings.Replace(doc, `"allow":[{"method":"*"}]`, `"deny":[{"method":"tools/call","targets":["x"]},{"method":"ping"}]`, 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = cmdExplain(&out, cfg, "", 0, caller{Roles: []string{"r"}}, Action{Method: "ping"}, false)
	want = `mcp_auth at apps.http.servers.a.routes[0].handle[0]: role "r": deny[1] "ping": can never take effect: ping is a lifecycle method, which every authenticated caller may always send`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestCmdVersion(t *testing.T) {
	var out bytes.Buffer
	if err := cmdVersion(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "caddy-mcp-auth "+Version) || !strings.Contains(out.String(), "\nCaddy ") {
		t.Errorf("version printed %q", out.String())
	}
}

// TestTokenStoreErrorsNameBothPlaces: at load time a token's error names
// the token and where it was configured (inline index or file:line), and
// for a clash where the other one is; never a secret.
func TestTokenStoreErrorsNameBothPlaces(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# tokens\n\ncarol "+hashToken("shared-secret")+" reader\nalice "+hashToken("other")+" reader\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	roles, err := compileRoles(testRoles, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MCP_TEST_UNSET_SECRET", "")
	tests := []struct {
		inline []Token
		want   string
	}{
		{[]Token{{Name: "bob", Secret: "shared-secret", Roles: []string{"reader"}}}, `token "carol": same secret as token "bob" (tokens[0]) (token file ` + file + `:3)`},
		{[]Token{{Name: "x", Secret: "s", Roles: []string{"reader"}}, {Name: "alice", Secret: "t", Roles: []string{"reader"}}}, `token "alice": duplicate token name (first at tokens[1]) (token file ` + file + `:4)`},
		{[]Token{{Name: "bob", Secret: "{env.MCP_TEST_UNSET_SECRET}", Roles: []string{"reader"}}}, `token "bob": secret {env.MCP_TEST_UNSET_SECRET}: `},
		{[]Token{{Name: "bob", Secret: "s", Roles: []string{"reeder"}}}, `token "bob": unknown role "reeder" (did you mean "reader"?) (tokens[0])`},
	}
	for _, tt := range tests {
		_, err := newTokenStore(tt.inline, []string{file}, roles)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v\nwant …%s…", err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "shared-secret") {
			t.Errorf("error %q holds a secret", err)
		}
	}
}

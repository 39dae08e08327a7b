package mcpauth

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the golden adapt files")

func TestUnmarshalCaddyfileGood(t *testing.T) {
	d := caddyfile.NewTestDispenser(`mcp_auth {
		token alice {env.ALICE} admin
		token bob plain-secret reader admin
		token carol sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD reader
		token_file /etc/caddy/mcp-tokens
		role admin {
			allow *
			deny tools/call delete_* drop_*
		}
		role reader {
			allow tools/call "get_*"
		}
		header X-Api-Key
		realm tools
		invalid_token 401
		deny_with status
		max_body 64KiB
		pass_authorization
		binding_scope crm
	}`)
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := MCPAuth{
		Tokens: []Token{
			{Name: "alice", Secret: "{env.ALICE}", Roles: []string{"admin"}},
			{Name: "bob", Secret: hashToken("plain-secret"), Roles: []string{"reader", "admin"}},
			{Name: "carol", Secret: "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Roles: []string{"reader"}},
		},
		TokenFiles: []string{"/etc/caddy/mcp-tokens"},
		Roles: map[string]Role{
			"admin":  {Allow: []Rule{{Method: "*", Targets: []string{}}}, Deny: []Rule{{Method: "tools/call", Targets: []string{"delete_*", "drop_*"}}}},
			"reader": {Allow: []Rule{{Method: "tools/call", Targets: []string{"get_*"}}}},
		},
		Header: "X-Api-Key", Realm: "tools", InvalidTokenStatus: 401, DenyWith: "status", MaxBody: 65536, PassAuthorization: true,
		BindingScope: "crm",
	}
	got, _ := json.Marshal(m)
	exp, _ := json.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("got  %s\nwant %s", got, exp)
	}
	if strings.Contains(string(got), "plain-secret") {
		t.Error("a literal secret survived adaptation")
	}
}

func TestUnmarshalCaddyfileErrors(t *testing.T) {
	const roles = "role r {\n allow *\n}\n"
	tests := []struct {
		name, input, want string
	}{
		{"argument on directive", "mcp_auth foo {\n token a s r\n " + roles + "}", "wrong argument count"},
		{"unknown subdirective", "mcp_auth {\n token a s r\n" + roles + " frobnicate\n}", "unrecognized mcp_auth subdirective 'frobnicate', at Testfile:6"},
		{"token too few args", "mcp_auth {\n token a secret-value\n" + roles + "}", "token: want <name> <secret> <role...>, got 2 argument(s), at Testfile:2"},
		{"duplicate token", "mcp_auth {\n token a s1 r\n token a s2 r\n" + roles + "}", `token "a": duplicate token name, at Testfile:3`},
		{"same secret", "mcp_auth {\n token a same-secret r\n token b same-secret r\n" + roles + "}", `token "b": same secret as token "a"`},
		{"same secret as digest", "mcp_auth {\n token a abc r\n token b sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad r\n" + roles + "}", `token "b": same secret as token "a"`},
		{"unknown role", "mcp_auth {\n token a s nobody\n" + roles + "}", `token "a": unknown role "nobody", at Testfile:2`},
		{"malformed digest", "mcp_auth {\n token a sha256:abcd r\n" + roles + "}", `token "a": malformed digest: want sha256: followed by 64 hex digits, at Testfile:2`},
		{"empty secret", "mcp_auth {\n token a \"\" r\n" + roles + "}", `token "a": empty secret`},
		{"role without rules", "mcp_auth {\n token a s r\n role r {\n }\n}", `role "r" has no rules`},
		{"role without block", "mcp_auth {\n token a s r\n role r\n}", `role "r" has no rules`},
		{"role bad verb", "mcp_auth {\n token a s r\n role r {\n permit *\n }\n}", `role "r": unrecognized role subdirective 'permit' (want allow or deny), at Testfile:4`},
		{"rule without method", "mcp_auth {\n token a s r\n role r {\n allow\n }\n}", `role "r": allow: want <method> [<target...>]`},
		{"duplicate role", "mcp_auth {\n token a s r\n" + roles + roles + "}", `role "r": duplicate role`},
		{"role two names", "mcp_auth {\n token a s r\n role r x {\n allow *\n }\n}", "wrong argument count"},
		{"token_file no path", "mcp_auth {\n token_file\n" + roles + "}", "wrong argument count"},
		{"header twice", "mcp_auth {\n token a s r\n header X-A\n header X-B\n" + roles + "}", "duplicate header subdirective, at Testfile:4"},
		{"header bad name", "mcp_auth {\n token a s r\n header \"X A\"\n" + roles + "}", `header: "X A" is not a valid header name`},
		{"realm with quote", "mcp_auth {\n token a s r\n realm a\"b\n" + roles + "}", "realm: only printable ASCII"},
		{"invalid_token value", "mcp_auth {\n token a s r\n invalid_token 404\n" + roles + "}", `invalid_token: want 401 or 403, got "404"`},
		{"deny_with value", "mcp_auth {\n token a s r\n deny_with silence\n" + roles + "}", `deny_with: want jsonrpc or status, got "silence"`},
		{"max_body value", "mcp_auth {\n token a s r\n max_body lots\n" + roles + "}", `max_body: want a size such as 1MiB, got "lots"`},
		{"max_body two args", "mcp_auth {\n token a s r\n max_body 1 MiB\n" + roles + "}", "wrong argument count"},
		{"pass_authorization arg", "mcp_auth {\n token a s r\n pass_authorization yes\n" + roles + "}", "wrong argument count"},
		{"no tokens", "mcp_auth {\n" + roles + "}", "at least one token or token_file is required"},
		// Rules that could never take effect, each at its line.
		{"misspelled method", "mcp_auth {\n token a s r\n role r {\n  allow *\n  deny tool/call delete_*\n }\n}", `role "r": deny tool/call delete_*: unknown method "tool/call" (did you mean "deny tools/call delete_*"?), at Testfile:5`},
		{"transposed letters", "mcp_auth {\n token a s r\n role r {\n  allow tools/lsit\n }\n}", `role "r": allow tools/lsit: unknown method "tools/lsit" (did you mean "allow tools/list"?), at Testfile:4`},
		{"singular family", "mcp_auth {\n token a s r\n role r {\n  allow tools/list\n  allow prompt/get summarize\n }\n}", `(did you mean "allow prompts/get summarize"?), at Testfile:5`},
		{"target as method", "mcp_auth {\n token a s r\n role r {\n  allow echo\n }\n}", `role "r": allow echo: unknown method "echo" (a rule names the method first, then targets: did you mean "allow tools/call echo" or "allow prompts/get echo"?), at Testfile:4`},
		{"target on a method without one", "mcp_auth {\n token a s r\n role r {\n  allow tools/list echo\n }\n}", `role "r": allow tools/list echo: tools/list has no target, so a rule with targets can never match it (did you mean "allow tools/call echo"?), at Testfile:4`},
		{"deny ping", "mcp_auth {\n token a s r\n role r {\n  allow *\n  deny ping\n }\n}", `role "r": deny ping: can never take effect: ping is a lifecycle method, which every authenticated caller may always send, at Testfile:5`},
		{"deny initialize", "mcp_auth {\n token a s r\n role r {\n  deny initialize\n }\n}", "can never take effect: initialize is a lifecycle method, which every authenticated caller may always send, at Testfile:4"},
		{"deny notifications", "mcp_auth {\n token a s r\n role r {\n  allow *\n\n  deny notifications/*\n }\n}", "can never take effect: notifications/* matches only lifecycle methods (notifications/initialized, notifications/cancelled, notifications/progress, …), which every authenticated caller may always send, at Testfile:6"},
		{"unknown method", "mcp_auth {\n token a s r\n role r {\n  allow x/custom\n }\n}", `unknown method "x/custom"; a method the module does not know must be declared: extension_method x/custom [name|uri] (JSON: extension_methods), at Testfile:4`},
		{"second role's rule", "mcp_auth {\n token a s r\n" + roles + " role q {\n  allow tools/call x\n  allow tools/cal y\n }\n}", `role "q": allow tools/cal y: unknown method "tools/cal" (did you mean "allow tools/call y"?), at Testfile:8`},
		{"empty target", "mcp_auth {\n token a s r\n role r {\n  allow tools/call \"\"\n }\n}", `role "r": allow tools/call : target 0 is empty, at Testfile:4`},
		{"rule with a block", "mcp_auth {\n token a s r\n role r {\n  allow tools/call {\n   x\n  }\n }\n}", `role "r": allow: unexpected block, at Testfile:5`},
		{"extension target on a method without one", "mcp_auth {\n token a s r\n extension_method x/y\n role r {\n  allow x/y a\n }\n}", `role "r": allow x/y a: x/y has no target, so a rule with targets can never match it, at Testfile:5`},
		{"extension_method args", "mcp_auth {\n token a s r\n" + roles + " extension_method\n}", "extension_method: want <method> [name|uri], got 0 argument(s), at Testfile:6"},
		{"extension_method three args", "mcp_auth {\n token a s r\n" + roles + " extension_method x/y uri z\n}", "extension_method: want <method> [name|uri], got 3 argument(s)"},
		{"extension_method bad kind", "mcp_auth {\n token a s r\n" + roles + " extension_method x/y path\n}", `extension_method: "x/y": target "path": want name or uri, at Testfile:6`},
		{"extension_method known", "mcp_auth {\n token a s r\n" + roles + " extension_method tools/call name\n}", `extension_method: "tools/call" is a method the module knows (MCP 2024-11-05); only unknown methods are declared, at Testfile:6`},
		{"extension_method glob", "mcp_auth {\n token a s r\n" + roles + " extension_method x/*\n}", "globs belong in rules, at Testfile:6"},
		{"extension_method twice", "mcp_auth {\n token a s r\n" + roles + " extension_method x/y\n extension_method x/y uri\n}", `extension_method: "x/y" is declared twice, at Testfile:7`},
		{"extension_method block", "mcp_auth {\n token a s r\n" + roles + " extension_method x/y {\n  uri\n }\n}", "extension_method: unexpected block, at Testfile:7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m MCPAuth
			err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want …%s…", err, tt.want)
			}
			for _, s := range []string{"same-secret", "secret-value"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

// TestCaddyfileAdapt compares `caddy adapt` output with the golden files in
// testdata/caddyfile_adapt (Caddyfile, a line of dashes, JSON). Run with
// -update to rewrite them. example.caddyfiletest must hold Caddyfile.example.
func TestCaddyfileAdapt(t *testing.T) {
	files, _ := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if len(files) < 3 {
		t.Fatalf("found %d golden files", len(files))
	}
	example, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			in, want, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatal("no ---------- separator")
			}
			if filepath.Base(f) == "example.caddyfiletest" && in+"\n" != string(example) {
				t.Fatal("example.caddyfiletest does not hold Caddyfile.example")
			}
			out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(in+"\n"), nil)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("warning: %s:%d: %s", f, w.Line, w.Message)
			}
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, out, "", "\t")
			got := pretty.String() + "\n"
			if *update {
				_ = os.WriteFile(f, []byte(in+"\n----------\n"+got), 0o644)
				return
			}
			if got != want {
				t.Errorf("adapted JSON differs; got:\n%s", got)
			}
			for _, secret := range []string{"demo-admin-token", "literal-secret", "ci-bot-example-token"} {
				if strings.Contains(got, secret) {
					t.Errorf("plaintext secret %q in adapted JSON", secret)
				}
			}
		})
	}
}

// TestExtensionMethodCaddyfile: a declared method works in rules, even in a
// role above its declaration, and reaches the JSON config.
func TestExtensionMethodCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`mcp_auth {
		token a s r
		role r {
			allow x/search docs_*
			allow x/read file:///docs/*
			deny x/*
		}
		extension_method x/search name
		extension_method x/read uri
		extension_method x/ping
	}`)
	var m MCPAuth
	if err := m.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(m.ExtensionMethods)
	if want := `[{"method":"x/search","target":"name"},{"method":"x/read","target":"uri"},{"method":"x/ping"}]`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

package mcpauth

import (
	"bytes"
	"os"
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

func TestCmdExplain(t *testing.T) {
	example, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	// The example's token_file does not exist here: use a config without it.
	cfg := strings.Replace(string(example), "token_file /etc/caddy/mcp-tokens", "", 1)
	tests := []struct {
		token  string
		a      Action
		want   string
		errTxt string
	}{
		{"alice", Action{Method: "tools/call", Target: "delete_db", HasTarget: true}, "deny: tools/call \"delete_db\" for token \"alice\" (roles admin)\n  decided by: role admin: deny tools/call delete_*\n", ""},
		{"alice", Action{Method: "tools/call", Target: "search_docs", HasTarget: true}, "allow: tools/call \"search_docs\" for token \"alice\" (roles admin)\n  decided by: role admin: allow *\n", ""},
		{"ci-bot", Action{Method: "resources/read", Target: "file:///docs/a.md", HasTarget: true}, "allow: resources/read \"file:///docs/a.md\" for token \"ci-bot\" (roles reader)\n  decided by: role reader: allow resources/read file:///docs/*\n", ""},
		{"ci-bot", Action{Method: "resources/read", Target: "file:///docs/../etc/passwd", HasTarget: true}, "refused (400): resource URI is not in normal form (dot segment in path)\n", ""},
		{"ci-bot", Action{Method: "logging/setLevel"}, "deny: logging/setLevel for token \"ci-bot\" (roles reader)\n  decided by: no rule matched\n", ""},
		{"nobody", Action{Method: "tools/list"}, "", `no token named "nobody"`},
		{"alice", Action{}, "", "--method are required"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := cmdExplain(&out, []byte(cfg), "caddyfile", tt.token, tt.a)
		if tt.errTxt != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errTxt) {
				t.Errorf("err = %v, want …%s…", err, tt.errTxt)
			}
			continue
		}
		if err != nil || out.String() != tt.want {
			t.Errorf("got %q (%v)\nwant %q", out.String(), err, tt.want)
		}
	}
}

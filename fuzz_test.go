package mcpauth

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func FuzzParseCredential(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic x", "abc", "Bearer", "Bearer a b", "\t"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, bearer bool) {
		tok, st := parseCredential([]string{v}, bearer)
		if st == credOK {
			if tok == "" || strings.ContainsAny(tok, " \t") && bearer {
				t.Fatalf("token %q from %q", tok, v)
			}
			for i := 0; i < len(tok); i++ {
				if tok[i] < 0x20 || tok[i] >= 0x7f {
					t.Fatalf("control or non-ASCII byte in token %q", tok)
				}
			}
		} else if tok != "" {
			t.Fatalf("a refusal returned a token")
		}
	})
}

func FuzzCaddyfile(f *testing.F) {
	f.Add("mcp_auth {\n token a s r\n role r {\n allow tools/call x*\n deny *\n }\n max_body 1MiB\n}")
	f.Add("mcp_auth {\n token_file /x\n header X-K\n invalid_token 401\n}")
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Fuzzfile")
		if err != nil {
			return
		}
		var m MCPAuth
		_ = m.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
	})
}

func FuzzTokenFile(f *testing.F) {
	f.Add("alice s3cret admin\n# c\n\nbob sha256:" + strings.Repeat("ab", 32) + " reader\n")
	f.Fuzz(func(t *testing.T, text string) {
		toks, _, err := parseTokenFile(strings.NewReader(text))
		if err != nil {
			return
		}
		for _, tok := range toks {
			if tok.Name == "" || tok.Secret == "" || len(tok.Roles) == 0 {
				t.Fatalf("incomplete token %+v", tok)
			}
		}
	})
}

// validJSONCorpus are grammar corner cases where validators have differed.

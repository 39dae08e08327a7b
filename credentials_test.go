package mcpauth

import (
	"strings"
	"testing"
)

func TestParseCredential(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		bearer bool
		tok    string
		st     credStatus
	}{
		{"absent", nil, true, "", credMissing},
		{"empty", []string{""}, true, "", credMissing},
		{"spaces only", []string{"   "}, true, "", credMissing},
		{"bare Bearer", []string{"Bearer"}, true, "", credMissing},
		{"bare bearer lower", []string{"bearer"}, true, "", credMissing},
		{"Bearer and spaces", []string{"Bearer   "}, true, "", credMissing},
		{"basic", []string{"Basic YWxpY2U6eA=="}, true, "", credMissing},
		{"digest", []string{"Digest username=x"}, true, "", credMissing},
		{"bearer", []string{"Bearer abc"}, true, "abc", credOK},
		{"lower-case scheme", []string{"bearer abc"}, true, "abc", credOK},
		{"upper-case scheme", []string{"BEARER abc"}, true, "abc", credOK},
		{"extra spaces", []string{"  Bearer    abc  "}, true, "abc", credOK},
		{"bare token", []string{"secret123"}, true, "secret123", credOK},
		{"two headers", []string{"Bearer a", "Bearer b"}, true, "", credMalformed},
		{"tab inside", []string{"Bearer\tabc"}, true, "", credMalformed},
		{"tab in token", []string{"Bearer ab\tc"}, true, "", credMalformed},
		{"non-ASCII", []string{"Bearer ab\xc3\xa9"}, true, "", credMalformed},
		{"DEL", []string{"Bearer ab\x7f"}, true, "", credMalformed},
		{"NUL", []string{"Bearer ab\x00"}, true, "", credMalformed},
		{"two tokens", []string{"Bearer a b"}, true, "", credMalformed},
		{"custom header whole value", []string{"Bearer abc"}, false, "Bearer abc", credOK},
		{"custom header trimmed", []string{" key-1 "}, false, "key-1", credOK},
		{"custom header empty", []string{""}, false, "", credMissing},
		{"custom header twice", []string{"a", "b"}, false, "", credMalformed},
		{"custom header control", []string{"a\x01b"}, false, "", credMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, st := parseCredential(tt.values, tt.bearer)
			if tok != tt.tok || st != tt.st {
				t.Errorf("parseCredential(%q) = %q, %v; want %q, %v", tt.values, tok, st, tt.tok, tt.st)
			}
		})
	}
}

func TestNormalizeSecret(t *testing.T) {
	const hexABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // sha256("abc")
	tests := []struct {
		in, want, err string
	}{
		{"abc", "sha256:" + hexABC, ""},
		{"sha256:" + hexABC, "sha256:" + hexABC, ""},
		{"sha256:" + strings.ToUpper(hexABC), "sha256:" + hexABC, ""},
		{"{env.ALICE_TOKEN}", "{env.ALICE_TOKEN}", ""},
		{"{file./run/secrets/x}", "{file./run/secrets/x}", ""},
		{"sha256:abc", "", "malformed digest"},
		{"sha256:" + strings.Repeat("z", 64), "", "malformed digest"},
		{"", "", "empty secret"},
	}
	for _, tt := range tests {
		got, err := normalizeSecret(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("normalizeSecret(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q repeats the secret", err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("normalizeSecret(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if d, _ := secretDigest("abc"); d != digestOf("abc") {
		t.Error("secretDigest and digestOf disagree")
	}
	long := strings.Repeat("x", 1000)
	if d, _ := secretDigest(long); d != digestOf(long) {
		t.Error("secretDigest and digestOf disagree for a long token")
	}
}

func TestParseTokenFile(t *testing.T) {
	good := "# team tokens\n\nalice  s3cr#t  admin reader # trailing comment\nbob sha256:" + strings.Repeat("ab", 32) + " reader\n"
	toks, _, err := parseTokenFile(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].Name != "alice" || toks[0].Secret != "s3cr#t" || strings.Join(toks[0].Roles, ",") != "admin,reader" || toks[1].Name != "bob" {
		t.Errorf("parsed %+v", toks)
	}
	bad := map[string]string{
		"alice s3cret\n":             "1: want",
		"\n\nalice\n":                "3: want",
		"bob sha256:12 reader\n":     `1: token "bob": malformed digest`,
		"carol {env.CAROL} reader\n": "placeholders are not expanded",
	}
	for text, want := range bad {
		_, _, err := parseTokenFile(strings.NewReader(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseTokenFile(%q) err = %v, want …%s…", text, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

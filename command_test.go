package mcpauth

import (
	"bytes"
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

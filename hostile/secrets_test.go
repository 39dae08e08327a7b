package hostile

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

// Secrets of the hygiene config, one per way of configuring a token.
const (
	hygEnvTok     = "c0ffee5ecret0env0b7a1d93e4f2" // {env.HYG_TOKEN}
	hygLiteralTok = "f00dface0literal0c3e9a71d58"  // a literal in the Caddyfile
	hygDigestTok  = "beef0digest0given0a4c8e2f671" // given as sha256:<hex>
	hygFileTok    = "d1ce0from0token0file0e85b3a0" // in a token file
	hygBogusTok   = "bad0presented0token0f3a9c17e" // presented, unknown
	hygKeyTok     = "a11ce0api0key0header0c9e7d25" // sent in X-Api-Key
)

// forbidden returns every string that must never show: each secret, its
// digest (hex, sha256:hex, base64, base64url) and 12-character prefixes
// of the secret and of the hex digest.
func forbidden(secrets ...string) map[string]string {
	out := map[string]string{}
	for _, s := range secrets {
		d := sha256.Sum256([]byte(s))
		h := hex.EncodeToString(d[:])
		out[s] = "token " + s[:6] + "…"
		out[s[:12]] = "token prefix " + s[:6] + "…"
		out[h] = "hex digest of " + s[:6] + "…"
		out[h[:12]] = "hex digest prefix of " + s[:6] + "…"
		out[strings.ToUpper(h[:12])] = "upper-case hex digest prefix of " + s[:6] + "…"
		out[base64.StdEncoding.EncodeToString(d[:])[:16]] = "base64 digest of " + s[:6] + "…"
		out[base64.RawURLEncoding.EncodeToString(d[:])[:16]] = "base64url digest of " + s[:6] + "…"
	}
	return out
}

func assertAbsent(t *testing.T, where, text string, bad map[string]string) {
	t.Helper()
	for s, what := range bad {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("%s in %s: …%s…", what, where, text[max(0, i-150):min(len(text), i+len(s)+50)])
		}
	}
}

// TestSecretHygiene runs Caddy at DEBUG with access logs and audit on,
// sends mixed traffic (valid, unknown, denied, malformed, streams), and
// looks for every secret, presented token and digest in Caddy's whole
// output, every response (status line, headers, body) and everything the
// backend received.
func TestSecretHygiene(t *testing.T) {
	be := newBackend(t, true)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte("filed "+hygFileTok+" reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(hygDigestTok))
	site := `http://:{PORT} {
	log
	mcp_auth {
		token enved   {env.HYG_TOKEN} admin
		token literal ` + hygLiteralTok + ` reader
		token digest  sha256:` + hex.EncodeToString(d[:]) + ` reader
		token_file ` + tokenFile + `
		role admin {
			allow *
			deny tools/call delete_*
		}
		role reader {
			allow tools/call echo
		}
		identity_header X-MCP-User
		roles_header    X-MCP-Roles
		audit
	}
	reverse_proxy ` + be.addr() + `
}
`
	c := startCaddy(t, "\tdebug\n", site, "HYG_TOKEN="+hygEnvTok)

	var seen strings.Builder // every response, whole
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(method, tok, body string, extra ...string) int {
		req, _ := http.NewRequest(method, c.Base()+"/mcp", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(extra); i += 2 {
			req.Header.Add(extra[i], extra[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&seen, "%s %v\n%s\n", resp.Status, resp.Header, b)
		return resp.StatusCode
	}
	all := []string{hygEnvTok, hygLiteralTok, hygDigestTok, hygFileTok}
	for _, tok := range all {
		if st := send("POST", tok, echoCall); st != 200 {
			t.Errorf("valid token %s…: %d", tok[:6], st)
		}
		send("POST", tok, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_all"}}`)      // denied
		send("POST", tok, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","Name":"x"}}`) // malformed
		send("POST", tok, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`)
		send("POST", tok, echoCall, "Mcp-Session-Id", "forged.session") // session_not_found
		send("POST", tok, echoCall, "Authorization", "Bearer "+tok)     // two credentials
		send("GET", tok, "")
		send("DELETE", tok, "")
	}
	if st := send("POST", hygBogusTok, echoCall); st != 403 {
		t.Errorf("unknown token: %d", st)
	}
	send("POST", "", echoCall, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:"+hygBogusTok)))
	send("POST", hygBogusTok+"\t", echoCall)
	send("POST", hygBogusTok, "{not json")

	// Caddy's access log redacts Authorization itself; an unknown token is
	// logged by nobody.
	c.Stop()
	out := c.Output()
	if !strings.Contains(out, `"level":"debug"`) || !strings.Contains(out, `"logger":"http.log.access`) ||
		!strings.Contains(out, "http.handlers.mcp_auth.audit") {
		t.Fatalf("the run did not log at debug with access and audit logs:\n%s", testcaddy.Tail(out, 2000))
	}
	// The access log does record the credential header, redacted: the
	// search below would see it if it were not.
	if !strings.Contains(out, `"Authorization":["REDACTED"]`) {
		t.Errorf("the access log does not show the redacted Authorization header")
	}
	bad := forbidden(append(all, hygBogusTok)...)
	assertAbsent(t, "Caddy's output", out, bad)
	assertAbsent(t, "the responses", seen.String(), bad)
	var up strings.Builder
	for _, r := range be.since(0) {
		fmt.Fprintf(&up, "%s %s %v\n%s\n", r.Method, r.Path, r.Header, r.Body)
	}
	if be.recorded() == 0 {
		t.Fatal("nothing reached the backend")
	}
	assertAbsent(t, "what the backend received", up.String(), bad)
	t.Logf("%d bytes of DEBUG output, %d bytes of responses, %d upstream requests: no secret, token, digest or prefix of one",
		len(out), seen.Len(), be.recorded())
}

// TestCustomHeaderLogFilter: with `header X-Api-Key`, Caddy's access log
// copies the key (it redacts only Authorization and Cookie). The filter
// docs/security.md shows removes it; without the filter it is there, so
// that page's warning holds. Two sites, one log file each.
func TestCustomHeaderLogFilter(t *testing.T) {
	be := newBackend(t, true)
	dir := t.TempDir()
	filtered, plain := filepath.Join(dir, "filtered.log"), filepath.Join(dir, "plain.log")
	otherPort := testcaddy.FreePort(t)
	block := func(logBlock string) string {
		return logBlock + `
	mcp_auth {
		header X-Api-Key
		token key ` + hygKeyTok + ` caller
		role caller {
			allow *
		}
	}
	reverse_proxy ` + be.addr() + `
`
	}
	site := "http://:{PORT} {\n" + block(`	log {
		output file `+filtered+`
		format filter {
			request>headers>X-Api-Key delete
		}
	}`) + "}\n" + fmt.Sprintf("http://:%d {\n", otherPort) + block(`	log {
		output file `+plain+`
	}`) + "}\n"
	c := startCaddy(t, "\tdebug\n", site)

	for _, base := range []string{c.Base(), fmt.Sprintf("http://127.0.0.1:%d", otherPort)} {
		for _, key := range []string{hygKeyTok, hygBogusTok} {
			req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(echoCall))
			req.Header.Set("X-Api-Key", key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := 200
			if key == hygBogusTok {
				want = 403
			}
			if resp.StatusCode != want {
				t.Errorf("%s with X-Api-Key %s…: %d, want %d", base, key[:6], resp.StatusCode, want)
			}
		}
	}
	c.Stop()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			t.Fatalf("access log %s: %v (%d bytes)", p, err, len(b))
		}
		return string(b)
	}
	flog, plog := read(filtered), read(plain)
	bad := forbidden(hygKeyTok, hygBogusTok)
	assertAbsent(t, "the filtered access log", flog, bad)
	// Caddy's own DEBUG output (reverse_proxy logs the upstream request)
	// must not show it either: the module removed the header upstream.
	assertAbsent(t, "Caddy's DEBUG output", c.Output(), bad)
	for _, key := range []string{hygKeyTok, hygBogusTok} {
		if !strings.Contains(plog, key) {
			t.Errorf("without the filter the access log does not show the key %s…: the warning of docs/security.md would be wrong", key[:6])
		}
	}
	for _, r := range be.since(0) {
		if r.Header.Get("X-Api-Key") != "" {
			t.Errorf("X-Api-Key reached the backend")
		}
	}
	if !strings.Contains(flog, `"X-Mcp-Roles"`) && !strings.Contains(flog, `"Content-Type"`) {
		t.Errorf("the filtered log has no request headers at all: %s", testcaddy.Tail(flog, 500))
	}
}

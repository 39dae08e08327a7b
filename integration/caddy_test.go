// Package integration runs mcp_auth inside a real, in-process Caddy (via
// caddytest) in front of a real MCP server built with the official Go SDK,
// and drives it with the SDK's own client.
//
// The tests share Caddy's fixed ports (admin 2999, HTTP 9080, HTTPS 9443):
// none of them may call t.Parallel, and no other package in the module may
// use caddytest (two packages would collide under `go test ./...`).
package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	// The module under test, and the standard Caddy modules (reverse_proxy,
	// tls internal, the pki admin API, …).
	_ "github.com/caddy-mcp-auth/caddy-mcp-auth"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

const (
	adminAddr = "localhost:2999"
	httpPort  = 9080
	httpsPort = 9443

	aliceToken = "alice-secret-token" // role admin
	bobToken   = "bob-secret-token"   // role reader
)

// storageDir keeps Caddy's certificates and internal CA out of the user's
// home directory. Set by TestMain.
var storageDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcp-auth-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: temp dir:", err)
		os.Exit(1)
	}
	storageDir = dir
	code := m.Run()
	if code == 0 {
		// Every config of the suite ran at DEBUG with the log in a file:
		// no secret, presented token or digest may appear in it.
		if err := scanDebugLog(filepath.Join(dir, "debug.log")); err != nil {
			fmt.Fprintln(os.Stderr, "integration: secret hygiene:", err)
			code = 1
		}
	}
	// The in-process Caddy never stops, so its files may still be open; a
	// failed removal is not a test failure.
	if os.Getenv("KEEP_DEBUG_LOG") == "" {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// strictTB turns caddytest's skips into failures. caddytest.InitServer
// calls SkipNow under -short and Skipf when Caddy's admin endpoint does not
// come up; either would let a broken setup pass as "ok" with every test
// skipped. Here a skip is a fatal error instead.
type strictTB struct{ testing.TB }

func (s strictTB) Skip(args ...any) {
	s.Helper()
	s.Fatal(append([]any{"caddytest tried to skip, which is a failure here:"}, args...)...)
}

func (s strictTB) Skipf(format string, args ...any) {
	s.Helper()
	s.Fatalf("caddytest tried to skip, which is a failure here: "+format, args...)
}

func (s strictTB) SkipNow() {
	s.Helper()
	s.Fatal("caddytest tried to skip (is -short set? did Caddy's admin endpoint fail to start?), which is a failure here")
}

// startCaddy loads a Caddyfile (site blocks only: the global options are
// prepended) into the in-process Caddy and fails the test at once if the
// config does not load, does not become active, or caddytest wanted to skip.
func startCaddy(t *testing.T, sites string) {
	t.Helper()
	cfg := globalOptions() + sites
	tester := caddytest.NewTester(strictTB{t})
	tester.InitServer(cfg, "caddyfile")
	if t.Failed() {
		t.Fatalf("Caddy did not load the config:\n%s", cfg)
	}
	if t.Skipped() { // cannot happen through strictTB; belt and braces
		t.Fatal("caddytest skipped the test")
	}
}

func globalOptions() string {
	return fmt.Sprintf(`{
	admin %s
	skip_install_trust
	grace_period 1ns
	http_port %d
	https_port %d
	storage file_system %s
	debug
	log default {
		output file %s
		level DEBUG
	}
}
`, adminAddr, httpPort, httpsPort, storageDir, filepath.Join(storageDir, "debug.log"))
}

// scanDebugLog reads the suite's DEBUG log and reports any configured or
// presented secret in it: the tokens, their hex and sha256: digests, and
// 12-character prefixes of the tokens.
func scanDebugLog(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(b) < 1000 {
		return fmt.Errorf("the DEBUG log %s holds only %d bytes: did logging to the file fail?", path, len(b))
	}
	// Caddy's own DEBUG dump of the loaded config (http.auto_https,
	// "adjusted config") holds the config as written, so a token given as
	// a literal or a sha256: digest shows there as its digest, as it does
	// in the admin API and autosave (tokens from {env.*}/{file.*} show as
	// the placeholder). That line is Caddy's, not a log line of the
	// module's, and is left out; everything else is scanned.
	var kept [][]byte
	dumps := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte(`"logger":"http.auto_https","msg":"adjusted config"`)) {
			dumps++
			continue
		}
		kept = append(kept, line)
	}
	rest := bytes.Join(kept, []byte("\n"))
	for _, tok := range []string{aliceToken, bobToken, "not-a-configured-token", "wrong-token"} {
		d := sha256.Sum256([]byte(tok))
		for _, needle := range []string{tok, tok[:min(12, len(tok))], hex.EncodeToString(d[:]), base64.StdEncoding.EncodeToString(d[:])} {
			if bytes.Contains(rest, []byte(needle)) {
				return fmt.Errorf("%q (from token %q) appears in the DEBUG log %s", needle, tok[:4]+"…", path)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "integration: secret hygiene: %d bytes of DEBUG log from the whole suite (%d config dumps of Caddy's left out): no token, digest or token prefix\n", len(rest), dumps)
	return nil
}

// mcpAuthBlock is the mcp_auth directive of the contract; extra lines
// (such as "deny_with status") go at the end of the block.
func mcpAuthBlock(extra ...string) string {
	var b strings.Builder
	b.WriteString(`	mcp_auth {
		token alice alice-secret-token admin
		token bob   bob-secret-token   reader
		role admin {
			allow *
			deny  tools/call delete_*
		}
		role reader {
			allow tools/list
			allow tools/call echo get_*
			allow resources/list
			allow resources/read file:///docs/*
			allow prompts/list
			allow prompts/get summarize
		}
`)
	for _, line := range extra {
		b.WriteString("\t\t" + line + "\n")
	}
	b.WriteString("\t}\n")
	return b.String()
}

// plainSite is the contract's site: mcp_auth then reverse_proxy, on HTTP.
func plainSite(backendAddr string, extra ...string) string {
	return fmt.Sprintf("http://localhost:%d {\n%s\treverse_proxy %s\n}\n", httpPort, mcpAuthBlock(extra...), backendAddr)
}

func httpEndpoint() string { return fmt.Sprintf("http://localhost:%d/mcp", httpPort) }

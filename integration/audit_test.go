package integration

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// auditEntry is one line of the audit log as Caddy's JSON encoder writes it.
type auditEntry struct {
	Logger     string `json:"logger"`
	Msg        string `json:"msg"`
	Principal  string `json:"principal"`
	User       string `json:"user"`
	Roles      string `json:"roles"`
	HTTPMethod string `json:"http_method"`
	Method     string `json:"method"`
	Target     string `json:"target"`
	Decision   string `json:"decision"`
	Rule       string `json:"rule"`
	Session    string `json:"session"`
	RemoteIP   string `json:"remote_ip"`
	RequestID  string `json:"request_id"`
}

// readAudit reads the audit log file, each line a JSON entry.
func readAudit(t *testing.T, path string) ([]auditEntry, []byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []auditEntry
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e auditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, sc.Bytes())
		}
		out = append(out, e)
	}
	return out, raw
}

// TestAuditLogToFile: `audit` entries, routed to a file by Caddy's own
// log config (a named log that includes http.handlers.mcp_auth.audit),
// are one per decision, for allowed and denied calls, lifecycle messages,
// GET and DELETE, and refusals before any rule (unknown token, foreign
// session); each names the principal, method, target, decision and rule,
// and the file holds no token, digest or Authorization value.
func TestAuditLogToFile(t *testing.T) {
	b := newBackend(t, modeSSE)
	logPath := filepath.Join(t.TempDir(), "mcp-audit.log")
	startCaddyGlobal(t, fmt.Sprintf(`
	log mcp_audit {
		output file %s
		format json
		include http.handlers.mcp_auth.audit
	}
`, logPath), plainSite(b.Addr, "audit"))

	const unknownToken = "not-a-configured-token"
	bob := mustConnect(t, connectOpts{token: bobToken})
	sid := bob.ID()
	waitForStream(t, b, sid)
	if _, err := bob.ListTools(ctxT(t), nil); err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	bob.callText(t, "echo", map[string]any{"text": "audited"})
	assertDeniedNotForwarded(t, b, bob, "tools/call", "delete_db", func() error {
		_, err := bob.CallTool(ctxT(t), &mcp.CallToolParams{Name: "delete_db", Arguments: map[string]any{}})
		return err
	})
	if r := do(t, newHTTPClient(t, unknownToken, nil), http.MethodPost, httpEndpoint(), initializeBody, nil); r.Status != http.StatusForbidden {
		t.Errorf("unknown token: status %d, want 403", r.Status)
	}
	if r := do(t, newHTTPClient(t, aliceToken, nil), http.MethodPost, httpEndpoint(),
		`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hijack"}}}`,
		map[string]string{"Mcp-Session-Id": sid}); r.Status != http.StatusNotFound {
		t.Errorf("alice on bob's session: status %d, want 404", r.Status)
	}
	if err := bob.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitForDelete(t, b, sid)

	// Every forwarded request was one decision (one message each, or a GET
	// or DELETE), plus the three refusals that were not forwarded.
	want := b.count() + 3
	var entries []auditEntry
	var raw []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, raw = readAudit(t, logPath)
		if len(entries) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(entries) != want {
		t.Fatalf("%d audit entries, want %d (one per decision):\n%s", len(entries), want, raw)
	}

	find := func(pred func(auditEntry) bool) []auditEntry {
		var out []auditEntry
		for _, e := range entries {
			if pred(e) {
				out = append(out, e)
			}
		}
		return out
	}
	one := func(what string, pred func(auditEntry) bool) auditEntry {
		t.Helper()
		got := find(pred)
		if len(got) != 1 {
			t.Fatalf("%s: %d audit entries, want 1:\n%s", what, len(got), raw)
		}
		return got[0]
	}
	isBob := func(e auditEntry) bool { return e.Principal == "token:bob" && e.User == "bob" && e.Roles == "reader" }

	for _, c := range []struct {
		method, target, decision, rule string
	}{
		{"tools/list", "", "allow", "role reader: allow tools/list"},
		{"tools/call", "echo", "allow", "role reader: allow tools/call echo get_*"},
		{"tools/call", "delete_db", "deny", "no rule matched"},
		{"initialize", "", "allow", "lifecycle"},
		{"notifications/initialized", "", "allow", "lifecycle"},
	} {
		e := one(c.method+" "+c.target, func(e auditEntry) bool {
			return e.Method == c.method && e.Target == c.target && e.Principal != "" && e.HTTPMethod == http.MethodPost
		})
		if !isBob(e) || e.Decision != c.decision || e.Rule != c.rule {
			t.Errorf("%s %s: entry %+v, want bob's with decision %s, rule %q", c.method, c.target, e, c.decision, c.rule)
		}
		if c.method != "initialize" && e.Session == "" {
			t.Errorf("%s %s: no session id in %+v", c.method, c.target, e)
		}
	}
	for _, e := range entries {
		if e.Logger != "http.handlers.mcp_auth.audit" || e.Msg != "decision" {
			t.Errorf("entry from logger %q msg %q, want http.handlers.mcp_auth.audit decision", e.Logger, e.Msg)
		}
		if e.RemoteIP != "127.0.0.1" {
			t.Errorf("entry %+v: remote_ip %q", e, e.RemoteIP)
		}
		if e.RequestID == "" {
			t.Errorf("entry %+v: no request_id", e)
		}
		if e.Decision != "allow" && e.Decision != "deny" {
			t.Errorf("entry %+v: decision %q", e, e.Decision)
		}
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		got := find(func(e auditEntry) bool { return e.HTTPMethod == m })
		if len(got) == 0 {
			t.Errorf("no audit entry for %s", m)
		}
		for _, e := range got {
			if !isBob(e) || e.Decision != "allow" || e.Rule != "lifecycle" || e.Session == "" {
				t.Errorf("%s: entry %+v, want bob's lifecycle allow with a session", m, e)
			}
		}
	}
	if e := one("unknown token", func(e auditEntry) bool { return e.Rule == "invalid_token" }); e.Decision != "deny" || e.Principal != "" {
		t.Errorf("unknown token: entry %+v, want a deny without a principal", e)
	}
	if e := one("foreign session", func(e auditEntry) bool { return e.Rule == "session_not_found" }); e.Decision != "deny" || e.Principal != "token:alice" {
		t.Errorf("foreign session: entry %+v, want alice's deny", e)
	}

	for _, secret := range []string{bobToken, aliceToken, unknownToken} {
		d := sha256.Sum256([]byte(secret))
		for _, s := range []string{secret, hex.EncodeToString(d[:]), "Bearer"} {
			if strings.Contains(string(raw), s) {
				t.Errorf("the audit log contains %q", s)
			}
		}
	}
}

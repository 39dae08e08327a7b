package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

const (
	stableTok   = "stable-load-token-4e0a9b17d2" // valid in every config
	closerTok   = "closer-load-token-0b6d2f8e41" // valid in every config, one connection a request
	streamerTok = "streamer-token-77c1d0e4aa"    // revoked by a reload while its GET stream is open
	echoCall    = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}`
)

// genTok is the token added by reload i and revoked by reload i+1.
func genTok(i int) string { return fmt.Sprintf("gen-%02d-token-5f9e3c", i) }

// reloadSite is the config of reload gen: the stable token, the token of
// this generation inline (odd gens) or in the token file (even gens), and
// the streamer while keepStreamer.
func reloadSite(backend, tokenFile string, gen int, keepStreamer bool) string {
	var b strings.Builder
	b.WriteString("http://:{PORT} {\n\tmcp_auth {\n")
	b.WriteString("\t\ttoken stable " + stableTok + " caller\n")
	b.WriteString("\t\ttoken closer " + closerTok + " caller\n")
	if keepStreamer {
		b.WriteString("\t\ttoken streamer " + streamerTok + " caller\n")
	}
	if gen%2 == 1 {
		fmt.Fprintf(&b, "\t\ttoken gen%02d %s caller\n", gen, genTok(gen))
	}
	b.WriteString("\t\ttoken_file " + tokenFile + "\n")
	b.WriteString("\t\trole caller {\n\t\t\tallow *\n\t\t}\n\t}\n")
	// keepalive: Caddy does not close a replaced config's idle upstream
	// connections; they end at this idle timeout (default 2m), which
	// the goroutine count waits for.
	b.WriteString("\treverse_proxy " + backend + " {\n\t\ttransport http {\n\t\t\tkeepalive 2s\n\t\t}\n\t}\n}\n")
	return b.String()
}

// writeTokenFile holds the token of an even generation (and nothing for
// odd ones, so the inline token is the only new one).
func writeTokenFile(t *testing.T, path string, gen int) {
	t.Helper()
	text := "# generation " + strconv.Itoa(gen) + "\n"
	if gen%2 == 0 {
		text += fmt.Sprintf("gen%02d %s caller\n", gen, genTok(gen))
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// probe POSTs echo with tok on a fresh connection and returns the status.
//
// A connection that Caddy resets without an answer while it hands its
// listener to the new config (see the read errors below) is no answer:
// probe tries again, up to 3 times, so that "first request" means the first
// one answered.
func probe(base, tok string) (int, error) {
	var err error
	for try := 0; try < 3; try++ {
		var st int
		if st, err = probeOnce(base, tok); err == nil {
			return st, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, err
}

func probeOnce(base, tok string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(echoCall))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

var wrkResult = regexp.MustCompile(`WRKRESULT requests=(\d+) connect=(\d+) read=(\d+) write=(\d+) timeout=(\d+) status=(\d+)`)

type wrkSummary struct {
	requests, connect, read, write, timeout, status int
}

// runWrk drives authenticated tools/call POSTs with wrk (one thread, 8
// connections) for d, writing its script into dir. With closeEach every
// request goes on a new connection (Connection: close).
func runWrk(wrk, dir, url, tok string, closeEach bool, d time.Duration) (wrkSummary, string, error) {
	script := filepath.Join(dir, tok+".lua")
	extra := ""
	if closeEach {
		extra = `wrk.headers["Connection"] = "close"` + "\n"
	}
	lua := fmt.Sprintf(`wrk.method = "POST"
wrk.body = %q
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
%sdone = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKRESULT requests=%%d connect=%%d read=%%d write=%%d timeout=%%d status=%%d\n",
    summary.requests, e.connect, e.read, e.write, e.timeout, e.status))
end
`, echoCall, tok, extra)
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return wrkSummary{}, "", err
	}
	out, err := exec.Command(wrk, "-t1", "-c8", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "--timeout", "5s", "-s", script, url).CombinedOutput()
	m := wrkResult.FindStringSubmatch(string(out))
	if m == nil {
		return wrkSummary{}, string(out), fmt.Errorf("no result from wrk: %v", err)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return wrkSummary{n(1), n(2), n(3), n(4), n(5), n(6)}, string(out), err
}

// TestReloadUnderLoad: wrk drives tools/call with a token valid in every
// config while the config is reloaded 20 times through the admin API,
// each reload adding a token and revoking the previous one (inline tokens
// on odd reloads, the token file on even ones, loaded with force as
// `caddy reload --force` does). Valid calls must never fail; a
// revoked token is refused on its first request after the reload; a new
// one is accepted on its first.
func TestReloadUnderLoad(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed (apt-get install -y wrk): this test drives its load with wrk")
	}
	be := newBackend(t, false)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	writeTokenFile(t, tokenFile, 0)
	c := startCaddy(t, "", reloadSite(be.addr(), tokenFile, 0, true))

	// Warm up, then count goroutines.
	for i := 0; i < 20; i++ {
		if st, err := probe(c.Base(), stableTok); err != nil || st != 200 {
			t.Fatalf("warm-up: %d %v", st, err)
		}
	}
	g0, _, err := c.Goroutines()
	if err != nil {
		t.Fatal(err)
	}
	// A changed token file is not picked up by a reload without force:
	// Caddy skips a load whose JSON did not change (docs/configuration.md says so).
	writeTokenFile(t, tokenFile, 2)
	if err := c.Reload(reloadSite(be.addr(), tokenFile, 0, true), false); err != nil {
		t.Fatal(err)
	}
	if st, _ := probe(c.Base(), genTok(2)); st != 403 {
		t.Errorf("a token added to the file was accepted (%d) after an unforced reload of the same JSON; expected Caddy to skip it", st)
	}
	writeTokenFile(t, tokenFile, 0)

	const reloads = 20
	const loadTime = 14 * time.Second
	type wrkOut struct {
		s   wrkSummary
		raw string
		err error
	}
	keepAlive, closeEach := make(chan wrkOut, 1), make(chan wrkOut, 1)
	go func() {
		s, raw, err := runWrk(wrk, dir, c.Base()+"/mcp", stableTok, false, loadTime)
		keepAlive <- wrkOut{s, raw, err}
	}()
	go func() {
		s, raw, err := runWrk(wrk, dir, c.Base()+"/mcp", closerTok, true, loadTime)
		closeEach <- wrkOut{s, raw, err}
	}()
	time.Sleep(1500 * time.Millisecond)

	var reloadTimes []time.Duration
	for gen := 1; gen <= reloads; gen++ {
		writeTokenFile(t, tokenFile, gen)
		start := time.Now()
		// Even generations bring their token in the file: force, as an
		// operator must when only the file changed.
		if err := c.Reload(reloadSite(be.addr(), tokenFile, gen, true), gen%2 == 0); err != nil {
			t.Fatalf("reload %d: %v", gen, err)
		}
		reloadTimes = append(reloadTimes, time.Since(start))
		if st, err := probe(c.Base(), genTok(gen)); st != 200 {
			t.Errorf("reload %d: the new token's first request got %d %v, want 200", gen, st, err)
		}
		if gen > 1 {
			if st, err := probe(c.Base(), genTok(gen-1)); st != 403 {
				t.Errorf("reload %d: the revoked token's first request got %d %v, want 403", gen, st, err)
			}
		}
		time.Sleep(400 * time.Millisecond)
	}
	var maxReload time.Duration
	for _, d := range reloadTimes {
		maxReload = max(maxReload, d)
	}
	t.Logf("%d reloads, slowest POST /load %s", reloads, maxReload.Round(time.Millisecond))
	for _, run := range []struct {
		name string
		ch   chan wrkOut
	}{{"keep-alive", keepAlive}, {"connection per request", closeEach}} {
		res := <-run.ch
		if res.err != nil {
			t.Fatalf("wrk (%s): %v\n%s", run.name, res.err, res.raw)
		}
		s := res.s
		t.Logf("wrk %s: %d requests in %s: socket errors connect %d, read %d, write %d, timeout %d; non-2xx/3xx %d",
			run.name, s.requests, loadTime, s.connect, s.read, s.write, s.timeout, s.status)
		if s.requests < 500 {
			t.Errorf("wrk %s: only %d requests: the load did not run", run.name, s.requests)
		}
		if s.status > 0 {
			t.Errorf("wrk %s: %d non-2xx answers to a valid token under reload\n%s", run.name, s.status, res.raw)
		}
		if s.connect+s.timeout > 0 {
			t.Errorf("wrk %s: socket errors under reload: connect %d, timeout %d\n%s", run.name, s.connect, s.timeout, res.raw)
		}
		// Read and write errors are Caddy's, not the module's: during a
		// reload Caddy hands its shared listener from the old http.Server
		// to the new one and shuts the old one down, and a few connections
		// (kept alive or just accepted) are closed without an answer —
		// wrk sees a read error, or a write error when the close comes
		// before it has sent the request. Measured here at ~2,500
		// requests/s: 40-130 in 20 reloads, the same with mcp_auth removed
		// from the config (plain reverse_proxy), and none without reloads.
		// Bounded at one per wrk connection per reload.
		if s.read+s.write > 8*reloads {
			t.Errorf("wrk %s: %d read and %d write errors, more than one per connection per reload\n%s", run.name, s.read, s.write, res.raw)
		}
	}

	// Goroutines: the 20 replaced configs must not leave any behind.
	checkGoroutines(t, c, g0)
}

// checkGoroutines waits up to 30 s for the process's goroutine count to
// come back to within slack of before. The slack covers goroutines that
// legitimately come and go: Go's HTTP transport keeps idle upstream
// connections (two goroutines each) and the server a goroutine per open
// client connection; the probes use fresh connections, and wrk's are
// closed when it exits.
func checkGoroutines(t *testing.T, c *testcaddy.Caddy, before int) {
	t.Helper()
	const slack = 12
	var after int
	var prof string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		after, prof, err = c.Goroutines()
		if err != nil {
			t.Fatal(err)
		}
		if after <= before+slack || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("goroutines: %d before, %d after (slack %d)", before, after, slack)
	if after > before+slack {
		if path := os.Getenv("HOSTILE_PROFILE"); path != "" {
			_ = os.WriteFile(path, []byte(prof), 0o644)
		}
		t.Errorf("goroutine leak: %d before, %d after (set HOSTILE_PROFILE=<file> for the whole profile)\n%s", before, after, testcaddy.Tail(prof, 3000))
	}
}

// sseRead opens a GET stream and returns a channel that is closed when the
// stream ends, after the first event arrived.
func openStream(t *testing.T, base, tok string) (status int, ended chan struct{}, cancel func()) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	tr := &http.Transport{DisableKeepAlives: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ended = make(chan struct{})
	if resp.StatusCode != 200 {
		resp.Body.Close()
		close(ended)
		return resp.StatusCode, ended, func() {}
	}
	first := make(chan struct{})
	go func() {
		defer close(ended)
		br := bufio.NewReader(resp.Body)
		var once sync.Once
		for {
			line, err := br.ReadString('\n')
			if strings.HasPrefix(line, "data:") {
				once.Do(func() { close(first) })
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the stream within 5s")
	}
	return 200, ended, func() { resp.Body.Close(); tr.CloseIdleConnections() }
}

// TestReloadEndsRevokedStream: a GET stream opened with a token that a
// reload revokes ends promptly after the reload (the old handler's
// Cleanup ends its streams), and the client's reconnect is judged by the
// new config. A stream of a token that stays valid ends too (every stream
// of the old config does) and its reconnect is accepted.
func TestReloadEndsRevokedStream(t *testing.T) {
	be := newBackend(t, false)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	writeTokenFile(t, tokenFile, 1)
	c := startCaddy(t, "", reloadSite(be.addr(), tokenFile, 1, true))

	st, revoked, closeRevoked := openStream(t, c.Base(), streamerTok)
	if st != 200 {
		t.Fatalf("stream: %d", st)
	}
	defer closeRevoked()
	_, kept, closeKept := openStream(t, c.Base(), stableTok)
	defer closeKept()

	// Documented bound: the stream ends within 2 s of the reload's answer
	// (in practice within milliseconds: Cleanup runs before POST /load
	// returns).
	const bound = 2 * time.Second
	if err := c.Reload(reloadSite(be.addr(), tokenFile, 1, false), false); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	for name, ch := range map[string]chan struct{}{"revoked": revoked, "still valid": kept} {
		select {
		case <-ch:
			t.Logf("%s token's stream ended %s after the reload returned", name, time.Since(reloaded).Round(time.Millisecond))
		case <-time.After(bound):
			t.Errorf("%s token's stream still open %s after the reload", name, bound)
		}
	}
	if st, _, _ := openStream(t, c.Base(), streamerTok); st != 403 {
		t.Errorf("reconnect with the revoked token: %d, want 403", st)
	}
	st, again, closeAgain := openStream(t, c.Base(), stableTok)
	defer closeAgain()
	if st != 200 {
		t.Errorf("reconnect with the valid token: %d, want 200", st)
	}
	select {
	case <-again:
		t.Error("the new stream ended at once")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestBackendFaults: backend down (502), slow past the proxy's
// response_header_timeout (504), and a backend that resets the TCP
// connection in the middle of an SSE stream (the client's stream ends);
// nothing panics (stop scans Caddy's output) and the process's goroutines
// come back to where they were.
func TestBackendFaults(t *testing.T) {
	be := newBackend(t, false)
	dead := fmt.Sprintf("127.0.0.1:%d", testcaddy.FreePort(t)) // nothing listens here
	site := `http://:{PORT} {
	mcp_auth {
		token alice ` + aliceTok + ` admin
		role admin {
			allow *
		}
	}
	handle /down* {
		reverse_proxy ` + dead + `
	}
	handle /slow* {
		reverse_proxy ` + be.addr() + ` {
			transport http {
				response_header_timeout 1s
			}
		}
	}
	handle {
		reverse_proxy ` + be.addr() + `
	}
}
`
	c := startCaddy(t, "", site)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	do := func(method, path string) (int, []byte, error) {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(echoCall)
		}
		req, _ := http.NewRequest(method, c.Base()+path, body)
		req.Header.Set("Authorization", "Bearer "+aliceTok)
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodGet {
			req.Header.Set("Accept", "text/event-stream")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	for i := 0; i < 5; i++ { // warm up
		if st, _, err := do(http.MethodPost, "/mcp"); st != 200 {
			t.Fatalf("warm-up: %d %v", st, err)
		}
	}
	g0, _, err := c.Goroutines()
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	fail := func(format string, a ...any) { t.Errorf(format, a...) }
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, _, err := do(http.MethodPost, "/down/mcp"); st != 502 {
				fail("backend down: %d %v, want 502", st, err)
			}
		}()
	}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			st, _, err := do(http.MethodPost, "/slow/mcp")
			if st != 504 {
				fail("slow backend: %d %v, want 504", st, err)
			}
			if d := time.Since(start); d < 900*time.Millisecond || d > 3*time.Second {
				fail("slow backend answered after %s, want about 1s (response_header_timeout)", d)
			}
		}()
	}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Reset mid-stream: headers and one event arrive, then the
			// stream ends with an error or EOF; Caddy aborts the response.
			st, body, _ := do(http.MethodGet, "/sse-reset/mcp")
			if st != 200 || !strings.Contains(string(body), "notifications/message") {
				fail("reset stream: %d %q, want 200 and the first event", st, body)
			}
		}()
	}
	wg.Wait()
	t.Logf("40 × backend down → 502, 8 × slow → 504 after ~1s, 10 × reset mid-SSE → stream ended after its first event")

	// Client-side aborts of long streams, then the goroutine count.
	for i := 0; i < 10; i++ {
		_, _, closeIt := openStream(t, c.Base(), aliceTok)
		closeIt()
	}
	checkGoroutines(t, c, g0)
	if out := c.Output(); strings.Contains(strings.ToLower(out), "panic") {
		t.Errorf("Caddy's log mentions a panic:\n%s", testcaddy.Tail(out, 4000))
	}
}

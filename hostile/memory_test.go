package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/internal/testcaddy"
)

// TestMemoryBudgetUnderLoad is the load test of the memory budget (issue
// 14): real Caddy processes, one with mcp_auth and one with a plain
// reverse_proxy as the baseline, in front of the same backend, whose
// tools/list reply is 15 MiB (JSON, or one SSE event) or a realistic 1 MiB,
// and whose GET streams send a 15 MiB event that never ends, or one whole
// such event and then nothing. Each scenario runs at 50 and 200 concurrent
// callers (the 1 MiB list at 1,000, the POST that declares
// Content-Length: 1 MiB and never sends its body at 2,000 connections),
// each on a fresh Caddy process, so that VmHWM in /proc/PID/status is the
// scenario's peak RSS.
//
// Asserted for mcp_auth, scenario by scenario:
//   - peak RSS (VmHWM) <= the baseline's peak RSS + 3 × the budget +
//     128 MiB: the budget holds the live bytes, the Go runtime's
//     collector and scavenger the rest (see memSlack);
//   - the live heap (after a collection) while connections are held
//     (never-read, GET streams, slow bodies) <= the baseline's + the
//     budget + 32 MiB, and for GET streams idle after their event, the
//     baseline's + 32 MiB: an idle stream keeps no large buffer (the
//     largest heap the collector marked live during the run is reported
//     too, from GODEBUG=gctrace=1);
//   - nothing unfiltered ever leaves: no byte a caller receives names a
//     denied tool, and every 200 list reply holds exactly the allowed tools
//     (the same scan finds the denied names in the baseline's replies, so
//     the check can fail);
//   - what the budget refuses is answered 503 with Retry-After (a JSON
//     reply) or ends the stream (SSE), and each refusal is counted in
//     caddy_mcp_auth_refusals_total{reason="memory_budget"} on Caddy's admin
//     /metrics;
//   - the budget does not refuse everything: some list replies get through;
//   - a body that never comes reaches no backend;
//   - with write_idle, a caller that never reads loses its connection and
//     the budget comes back.
//
// The budget is configured smaller than the default (memory_budget 128MiB,
// a quarter per caller) to keep the run short; the callers use 8 tokens,
// so that the total, not one caller's share, is what binds.
//
// The same scenarios measure any Caddy: MCP_AUTH_CADDY_BIN=<abs path>
// chooses the binary, MCP_AUTH_MEMORY_MEASURE=1 logs the table and asserts
// nothing, MCP_AUTH_MEMORY_BUDGET=default leaves memory_budget out (for a
// build that predates it); see the memEnv constants and BENCHMARKS.md.
func TestMemoryBudgetUnderLoad(t *testing.T) {
	cfg := memConfigFromEnv(t)
	be := newMemBackend(t)
	t.Logf("budget %s, peak RSS bound: baseline + 3 × budget + %d MiB, hold %v, measure-only %v, kill above %d MiB, binary %s, Caddy env %v",
		cfg.budgetLabel(), memSlack>>20, cfg.hold, cfg.measure, cfg.cap>>20, testcaddy.Bin(t), cfg.env)

	var table memTable
	defer func() { table.emit(t, cfg) }()

	listRow := func(key, row, path string, allowed int, sse bool, callers ...int) {
		for _, n := range callers {
			t.Run(fmt.Sprintf("%s/%d", key, n), func(t *testing.T) {
				memCompare(t, cfg, be, &table, row, n, "", func(t *testing.T, c *memCaddy) memOutcome {
					return memListCallers(t, c, path, n, allowed, sse)
				})
			})
		}
	}
	listRow("json", "JSON list reply", "/json/mcp", be.bigAllowed, false, 50, 200)
	listRow("sse", "the list as one SSE event", "/sse/mcp", be.bigAllowed, true, 50, 200)
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprintf("never-read/%d", n), func(t *testing.T) {
			memCompare(t, cfg, be, &table, "callers that never read the reply", n, "", func(t *testing.T, c *memCaddy) memOutcome {
				return memNeverRead(t, c, be, n, 0)
			})
		})
	}
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprintf("never-read-write_idle/%d", n), func(t *testing.T) {
			memCompare(t, cfg, be, &table, "callers that never read the reply, `write_idle "+memWriteIdle.String()+"`", n,
				"\tservers {\n\t\ttimeouts {\n\t\t\twrite_idle "+memWriteIdle.String()+"\n\t\t}\n\t}\n",
				func(t *testing.T, c *memCaddy) memOutcome {
					return memNeverRead(t, c, be, n, memWriteIdle)
				})
		})
	}
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprintf("get-never-ending/%d", n), func(t *testing.T) {
			memCompare(t, cfg, be, &table, "GET streams whose 15 MiB event never ends", n, "", func(t *testing.T, c *memCaddy) memOutcome {
				return memStreams(t, c, "/never/mcp", n, be.bigAllowed)
			})
		})
	}
	for _, n := range []int{50, 200} {
		t.Run(fmt.Sprintf("get-idle/%d", n), func(t *testing.T) {
			memCompare(t, cfg, be, &table, "GET streams idle after one 15 MiB event (the list)", n, "", func(t *testing.T, c *memCaddy) memOutcome {
				return memStreams(t, c, "/idle/mcp", n, be.bigAllowed)
			})
		})
	}
	listRow("small", "a realistic 1 MiB list", "/small/mcp", be.smallAllowed, false, cfg.small)
	t.Run(fmt.Sprintf("slow-body/%d", cfg.slowBody), func(t *testing.T) {
		memCompare(t, cfg, be, &table, "POST declaring `Content-Length: 1 MiB`, body never sent", cfg.slowBody, "", func(t *testing.T, c *memCaddy) memOutcome {
			return memSlowBodies(t, c, be, cfg.slowBody)
		})
	})
}

// The environment of the memory test.
const (
	// memBudgetEnv: the memory_budget directive's total (per caller: a
	// quarter, the module's default); "default" leaves the directive out
	// (the module's default, 256MiB, or a build that predates it).
	// Default: 128MiB.
	memBudgetEnv = "MCP_AUTH_MEMORY_BUDGET"
	// memMeasureEnv=1 measures and logs the table, and asserts nothing (a
	// build from before the budget).
	memMeasureEnv = "MCP_AUTH_MEMORY_MEASURE"
	// memCapEnv: the RSS (MiB) at which a Caddy is killed, so that a
	// runaway build cannot take the machine. Default: 2048 when asserting,
	// 6144 when measuring.
	memCapEnv = "MCP_AUTH_MEMORY_CAP_MIB"
	// memHoldEnv: how long never-read, GET and slow-body connections are
	// held before the measurement. Default: 3s.
	memHoldEnv = "MCP_AUTH_MEMORY_HOLD"
	// memSmallEnv, memSlowEnv: callers of the 1 MiB list (default 1000)
	// and connections of the body that never comes (default 2000).
	memSmallEnv = "MCP_AUTH_MEMORY_SMALL_CALLERS"
	memSlowEnv  = "MCP_AUTH_MEMORY_SLOW_BODIES"
	// memTableEnv: a file the markdown table is written to.
	memTableEnv = "MCP_AUTH_MEMORY_TABLE"
	// memPprofEnv: a directory for heap profiles of mcp_auth's Caddy (at
	// the hold point, and when its RSS first passes budget + baseline).
	memPprofEnv = "MCP_AUTH_MEMORY_PPROF"
	// memCaddyEnv: NAME=value pairs, space-separated, for both Caddy
	// processes (GOGC=50, GOMEMLIMIT=…, GODEBUG=gctrace=1).
	memCaddyEnv = "MCP_AUTH_MEMORY_CADDY_ENV"
)

// memSlack is what peak RSS may exceed budget + baseline by, on top of a
// second and a third budget: the module keeps what it holds within the
// budget (the live heap at the hold points is checked against budget +
// baseline + memHeapSlack), but RSS is what the Go runtime keeps. With
// GOGC=100 the heap grows to twice the live heap before it is collected
// (Caddy's automatic GOMEMLIMIT is 90% of the machine's memory, far
// above), and buffers that grew by doubling and replies already written or
// refused are that garbage; freed 16 MiB spans go back to the OS lazily
// (the scavenger) and fragment. Measured on a shared 2-core machine:
// peaks of baseline + 280 to 490 MiB with memory_budget 128MiB (2.2 to
// 3.8 × the budget, the highest at a load average of 19), + 490 to 690
// MiB with the default 256 MiB (BENCHMARKS.md). So the bound is baseline
// + 3 × budget + memSlack.
const memSlack = 128 << 20

// memHeapSlack is what the live heap (after a collection, at the hold
// point of a scenario that holds connections) may exceed the baseline's
// live heap + the budget by: the module's own state per connection and
// request (its exchange, the stream table, pooled small buffers).
const memHeapSlack = 32 << 20

// memWriteIdle is the write_idle of the never-read re-measurement (the
// docs/security.md recommends a value; a short one keeps the test short).
const memWriteIdle = 2 * time.Second

type memConfig struct {
	budget   int64 // bytes; the module's default when the directive is left out
	explicit bool  // the directive is in the Caddyfile
	measure  bool
	cap      int64
	hold     time.Duration
	small    int
	slowBody int
	pprofDir string
	env      []string
}

func (c memConfig) budgetLabel() string {
	if !c.explicit {
		return "default (no memory_budget directive; 256 MiB if the build has the budget)"
	}
	return fmt.Sprintf("memory_budget %dMiB", c.budget>>20)
}

// bound is the most RSS mcp_auth's Caddy may reach when the baseline
// reached plain.
func (c memConfig) bound(plain int64) int64 { return plain + 3*c.budget + memSlack }

func memConfigFromEnv(t *testing.T) memConfig {
	cfg := memConfig{budget: 128 << 20, explicit: true, hold: 3 * time.Second, small: 1000, slowBody: 2000}
	if v := os.Getenv(memBudgetEnv); v == "default" {
		cfg.budget, cfg.explicit = 256<<20, false
	} else if v != "" {
		mib, err := strconv.Atoi(strings.TrimSuffix(v, "MiB"))
		if err != nil || mib < 32 {
			t.Fatalf("%s=%q: want <n>MiB (at least 32) or default", memBudgetEnv, v)
		}
		cfg.budget = int64(mib) << 20
	}
	cfg.measure = os.Getenv(memMeasureEnv) == "1"
	cfg.cap = 2048 << 20
	if cfg.measure {
		cfg.cap = 6144 << 20
	}
	atoi := func(env string, dst *int) {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive number", env, v)
			}
			*dst = n
		}
	}
	capMiB := int(cfg.cap >> 20)
	atoi(memCapEnv, &capMiB)
	cfg.cap = int64(capMiB) << 20
	atoi(memSmallEnv, &cfg.small)
	atoi(memSlowEnv, &cfg.slowBody)
	if v := os.Getenv(memHoldEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: want a duration", memHoldEnv, v)
		}
		cfg.hold = d
	}
	cfg.pprofDir = os.Getenv(memPprofEnv)
	cfg.env = strings.Fields(os.Getenv(memCaddyEnv))
	return cfg
}

// The callers' tokens: 8 principals of role reader, so that the total
// budget binds before any one caller's share.
var memToks = func() []string {
	var toks []string
	for i := 0; i < 8; i++ {
		toks = append(toks, fmt.Sprintf("mem-reader-%d-token-3b9f1c", i))
	}
	return toks
}()

// The backend's tools: every tenth is denied to the reader role.
const (
	memAllowedPrefix = `"name":"tool_`
	memDenied        = "secret_tool_"
)

func memSite(backend string, budget memConfig, withAuth bool) string {
	// A generous dial timeout: on a loaded machine, Caddy's default (3s)
	// to a backend that is busy writing 3 GB would be a 502 that says
	// nothing about memory.
	proxy := "\treverse_proxy " + backend + " {\n\t\ttransport http {\n\t\t\tdial_timeout 30s\n\t\t}\n\t}\n"
	if !withAuth {
		return "http://:{PORT} {\n" + proxy + "}\n"
	}
	var b strings.Builder
	b.WriteString("http://:{PORT} {\n\tmcp_auth {\n")
	for i, tok := range memToks {
		fmt.Fprintf(&b, "\t\ttoken reader%d %s reader\n", i, tok)
	}
	b.WriteString("\t\trole reader {\n\t\t\tallow tools/list\n\t\t\tallow tools/call tool_*\n\t\t}\n")
	if budget.explicit {
		fmt.Fprintf(&b, "\t\tmemory_budget %dMiB\n", budget.budget>>20)
	}
	b.WriteString("\t}\n" + proxy + "}\n")
	return b.String()
}

// memBackend is the MCP-ish upstream. POST /json…, /sse…, /small…
// answer any body with the 15 MiB list as JSON, as one SSE event, or a
// 1 MiB list; GET /never… sends 15 MiB of an SSE event that never ends,
// GET /idle… the 15 MiB list as one whole event; both then stay open and
// silent until the request ends (at most 2 minutes). It reads every body
// to its end before it answers, and counts what reached it.
type memBackend struct {
	ln  net.Listener
	srv *http.Server

	bigJSON, bigSSE, smallJSON []byte
	neverHead, idleEvent       []byte
	bigAllowed, smallAllowed   int

	posts atomic.Int64 // POSTs that reached it (headers)
	whole atomic.Int64 // POSTs whose body arrived whole
	gets  atomic.Int64
}

// memToolList renders a tools/list result of about size bytes: tools of
// about 1 KiB, every tenth named secret_tool_…, and the number of the
// others.
func memToolList(size int) ([]byte, int) {
	var b bytes.Buffer
	b.Grow(size + 2048)
	b.WriteString(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`)
	pad := strings.Repeat("x", 900)
	allowed := 0
	for i := 0; b.Len() < size-1100; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		name := fmt.Sprintf("tool_%05d", i)
		if i%10 == 3 {
			name = fmt.Sprintf("%s%05d", memDenied, i)
		} else {
			allowed++
		}
		fmt.Fprintf(&b, `{"name":%q,"description":"%s","inputSchema":{"type":"object","properties":{"q":{"type":"string"}}}}`, name, pad)
	}
	b.WriteString(`]}}`)
	return b.Bytes(), allowed
}

func newMemBackend(t *testing.T) *memBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &memBackend{ln: ln}
	b.bigJSON, b.bigAllowed = memToolList(15 << 20)
	b.smallJSON, b.smallAllowed = memToolList(1 << 20)
	b.bigSSE = append(append([]byte("event: message\ndata: "), b.bigJSON...), "\n\n"...)
	b.idleEvent = b.bigSSE
	b.neverHead = append([]byte(`event: message`+"\n"+`data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"`),
		bytes.Repeat([]byte("y"), 15<<20)...)
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() { _ = b.srv.Close() })
	return b
}

func (b *memBackend) addr() string { return b.ln.Addr().String() }

func (b *memBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if r.Method == http.MethodPost {
		b.posts.Add(1)
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return // the body never came whole
		}
		b.whole.Add(1)
		var reply []byte
		ct := "application/json"
		switch {
		case strings.HasPrefix(p, "/json"):
			reply = b.bigJSON
		case strings.HasPrefix(p, "/sse"):
			reply, ct = b.bigSSE, "text/event-stream"
		case strings.HasPrefix(p, "/small"):
			reply = b.smallJSON
		default:
			reply = []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)
		}
		w.Header().Set("Content-Type", ct)
		if ct == "application/json" {
			w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
		}
		_, _ = w.Write(reply)
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	b.gets.Add(1)
	var ev []byte
	switch {
	case strings.HasPrefix(p, "/never"):
		ev = b.neverHead
	case strings.HasPrefix(p, "/idle"):
		ev = b.idleEvent
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	if _, err := w.Write(ev); err != nil {
		return
	}
	w.(http.Flusher).Flush()
	select {
	case <-r.Context().Done():
	case <-time.After(2 * time.Minute):
	}
}

// memCaddy is one Caddy process of a scenario, with its pid and RSS
// sampler.
type memCaddy struct {
	*testcaddy.Caddy
	auth bool // mcp_auth (else the plain baseline)
	pid  int
	cfg  memConfig

	mu      sync.Mutex
	maxRSS  int64
	killed  bool
	stop    chan struct{}
	stopped chan struct{}
	// limit: when RSS crosses it, a heap profile is taken (pprofDir).
	limit    int64
	profiled atomic.Bool
	label    string
}

func memStartCaddy(t *testing.T, cfg memConfig, be *memBackend, auth bool, global, label string, limit int64) *memCaddy {
	t.Helper()
	env := cfg.env
	if !strings.Contains(strings.Join(env, " "), "GODEBUG=") {
		// One line per collection on stderr: the live heap it marked
		// (liveMax).
		env = append(env[:len(env):len(env)], "GODEBUG=gctrace=1")
	}
	c := startCaddy(t, global, memSite(be.addr(), cfg, auth), env...)
	pid, err := memPidOf(c.Port())
	if err != nil {
		t.Fatalf("the pid of the Caddy listening on %d: %v", c.Port(), err)
	}
	mc := &memCaddy{Caddy: c, auth: auth, pid: pid, cfg: cfg, stop: make(chan struct{}), stopped: make(chan struct{}), limit: limit, label: label}
	go mc.sample()
	t.Cleanup(mc.halt)
	return mc
}

// sample reads VmRSS every 10 ms: the maximum (VmHWM is the figure
// reported), a heap profile when it crosses the limit, and the kill at
// cfg.cap.
func (c *memCaddy) sample() {
	defer close(c.stopped)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		rss, _, err := memStatus(c.pid)
		if err != nil {
			return // exited
		}
		c.mu.Lock()
		c.maxRSS = max(c.maxRSS, rss)
		c.mu.Unlock()
		if c.auth && c.cfg.pprofDir != "" && c.limit > 0 && rss > c.limit && c.profiled.CompareAndSwap(false, true) {
			go c.saveHeap("over-budget-plus-baseline")
		}
		if rss > c.cfg.cap {
			c.mu.Lock()
			c.killed = true
			c.mu.Unlock()
			_ = syscall.Kill(c.pid, syscall.SIGKILL)
			return
		}
	}
}

func (c *memCaddy) halt() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.stopped
}

// peak is VmHWM (or the sampled maximum, for a killed process).
func (c *memCaddy) peak() (int64, bool) {
	_, hwm, err := memStatus(c.pid)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || c.killed {
		return c.maxRSS, c.killed
	}
	return max(hwm, c.maxRSS), false
}

// rss is VmRSS now, -1 if the process is gone.
func (c *memCaddy) rss() int64 {
	rss, _, err := memStatus(c.pid)
	if err != nil {
		return -1
	}
	return rss
}

func (c *memCaddy) wasKilled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.killed
}

func (c *memCaddy) saveHeap(why string) {
	if c.cfg.pprofDir == "" {
		return
	}
	resp, err := http.Get("http://" + c.Admin() + "/debug/pprof/heap")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_ = os.MkdirAll(c.cfg.pprofDir, 0o755)
	_ = os.WriteFile(filepath.Join(c.cfg.pprofDir, strings.NewReplacer("/", "-", " ", "_").Replace(c.label)+"-"+why+".pprof"), body, 0o644)
}

// memStatus reads VmRSS and VmHWM (bytes) of pid.
func memStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS (a zombie?)")
	}
	return rss, hwm, nil
}

// memPidOf finds the child of this test process that listens on port:
// the inode of the listening socket in /proc/net/tcp{,6}, then the child
// with a descriptor on it.
func memPidOf(port int) (int, error) {
	hexPort := fmt.Sprintf(":%04X", port)
	var inode string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 9 && strings.HasSuffix(fs[1], hexPort) && fs[3] == "0A" {
				inode = fs[9]
			}
		}
	}
	if inode == "" {
		return 0, fmt.Errorf("no listening socket on port %d", port)
	}
	want := "socket:[" + inode + "]"
	procs, _ := filepath.Glob("/proc/[0-9]*")
	me := os.Getpid()
	for _, p := range procs {
		stat, err := os.ReadFile(p + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces: split after ')'.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		fs := strings.Fields(string(rest))
		if len(fs) < 2 || fs[1] != strconv.Itoa(me) {
			continue
		}
		fds, _ := os.ReadDir(p + "/fd")
		for _, fd := range fds {
			if l, err := os.Readlink(p + "/fd/" + fd.Name()); err == nil && l == want {
				return strconv.Atoi(filepath.Base(p))
			}
		}
	}
	return 0, fmt.Errorf("no child of pid %d holds %s", me, want)
}

// memEstablished counts the ESTABLISHED TCP connections whose local port
// is port (Caddy's side of its clients' connections).
func memEstablished(port int) int {
	hexPort := fmt.Sprintf(":%04X", port)
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) > 3 && strings.HasSuffix(fs[1], hexPort) && fs[3] == "01" {
				n++
			}
		}
	}
	return n
}

var (
	memGCLine    = regexp.MustCompile(`gc \d+ @[0-9.]+s [0-9]+%: [^\n]*?, (\d+)->(\d+)->(\d+) MB`)
	memHeapAlloc = regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)`)
	memRefusal   = regexp.MustCompile(`(?m)^caddy_mcp_auth_refusals_total\{reason="([a-z_]+)"\} ([0-9.e+]+)`)
)

// liveMax is the largest heap a collection of the process marked live
// (GODEBUG=gctrace=1: "gc N @…: …, A->B->C MB", C in MiB), -1 without
// such lines. It is reported, not asserted: a collection counts as live
// whatever was allocated while it ran (buffers already given back to the
// budget among them), so under a burst it exceeds the budget by what
// one cycle saw allocated (up to 1.6 × the budget measured). The hold
// points' live heap (a forced collection, nothing allocating) is the
// exact figure, and is asserted.
func (c *memCaddy) liveMax() int64 {
	best := int64(-1)
	for _, m := range memGCLine.FindAllStringSubmatch(c.Output(), -1) {
		v, _ := strconv.ParseInt(m[3], 10, 64)
		best = max(best, v<<20)
	}
	return best
}

// liveHeap is the Caddy's heap after a collection (pprof heap?gc=1).
func (c *memCaddy) liveHeap() int64 {
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get("http://" + c.Admin() + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := memHeapAlloc.FindSubmatch(b)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}

// refusals reads caddy_mcp_auth_refusals_total by reason from the admin
// endpoint's /metrics.
func (c *memCaddy) refusals(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	if !c.auth || c.wasKilled() {
		return out
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + c.Admin() + "/metrics")
	if err != nil {
		t.Errorf("admin /metrics: %v", err)
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, m := range memRefusal.FindAllSubmatch(b, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		out[string(m[1])] = v
	}
	return out
}

// memScan counts needles in a stream, across the boundaries of its
// writes, and the bytes.
type memScan struct {
	needles [][]byte
	counts  []int
	carry   []byte
	joined  []byte
	n       int64
}

func newMemScan(needles ...string) *memScan {
	s := &memScan{counts: make([]int, len(needles))}
	for _, n := range needles {
		s.needles = append(s.needles, []byte(n))
	}
	return s
}

func (s *memScan) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.joined = append(append(s.joined[:0], s.carry...), p...)
	longest := 0
	for i, nd := range s.needles {
		s.counts[i] += bytes.Count(s.joined, nd)
		longest = max(longest, len(nd))
	}
	// No needle fits in the carry alone, so none is counted twice.
	keep := min(longest-1, len(s.joined))
	s.carry = append(s.carry[:0], s.joined[len(s.joined)-keep:]...)
	return len(p), nil
}

// memCounts is what the callers of one run saw.
type memCounts struct {
	n          int
	status     map[int]int
	errs       int    // transport errors
	firstErr   string // the first of them
	complete   int    // 200 list replies with exactly the allowed tools
	cut        int    // 200 replies with some but not all of the allowed tools
	ended      int    // 200 SSE streams that ended without their event (refused)
	leaks      int    // replies (or streams) that named a denied tool
	noRetry    int    // 503s without Retry-After
	open       int    // streams (connections) still open at the hold point
	unfiltered int    // baseline: replies that carry the denied tools
	bytes      int64
	mu         sync.Mutex
	firstOther string
}

func newMemCounts(n int) *memCounts { return &memCounts{n: n, status: map[int]int{}} }

func (m *memCounts) err(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs++
	if m.firstErr == "" {
		m.firstErr = err.Error()
	}
}

// memOutcome is the result of one run of a scenario on one Caddy.
type memOutcome struct {
	counts *memCounts
	// refused: what the budget refused as the callers saw it (503s and
	// SSE streams ended without their event).
	refused int
	// hold-point figures (never-read, GET, slow body): VmRSS, live heap
	// after a collection, -1 when not taken.
	rssHold, heapHold int64
	// reached: requests that reached the backend (slow body).
	reached int64
	// released: for write_idle, how long after the requests were sent
	// Caddy had closed every never-reading connection (-1: not within the
	// bound); probe: the status a reading caller got at the hold point
	// (never-read) or after the release (write_idle).
	released time.Duration
	probe    int
	// liveMax: the largest live heap a collection marked (gctrace).
	liveMax int64
}

// memListCallers: n callers at once, each POSTs tools/list once and reads
// the reply, scanning it for the allowed and the denied tools.
func memListCallers(t *testing.T, c *memCaddy, path string, n, allowed int, sse bool) memOutcome {
	counts := newMemCounts(n)
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true, ResponseHeaderTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 120 * time.Second}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, c.Base()+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`))
			req.Header.Set("Authorization", "Bearer "+memToks[i%len(memToks)])
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := client.Do(req)
			if err != nil {
				counts.err(err)
				return
			}
			defer resp.Body.Close()
			scan := newMemScan(memAllowedPrefix, memDenied)
			_, rerr := io.CopyBuffer(scan, resp.Body, make([]byte, 64<<10))
			names, denied := scan.counts[0], scan.counts[1]
			counts.mu.Lock()
			defer counts.mu.Unlock()
			counts.status[resp.StatusCode]++
			counts.bytes += scan.n
			if c.auth && denied > 0 {
				counts.leaks++
			}
			if !c.auth {
				if resp.StatusCode == 200 && denied > 0 {
					counts.unfiltered++ // the baseline carries the denied tools
				}
				if resp.StatusCode == 200 && names == allowed {
					counts.complete++
				}
				return
			}
			switch {
			case resp.StatusCode == http.StatusServiceUnavailable:
				if resp.Header.Get("Retry-After") == "" {
					counts.noRetry++
				}
			case resp.StatusCode != 200:
				if counts.firstOther == "" {
					counts.firstOther = fmt.Sprintf("%d %q", resp.StatusCode, testcaddy.Tail(fmt.Sprint(scan.n), 200))
				}
			case names == allowed && rerr == nil:
				counts.complete++
			case names == 0 && sse:
				counts.ended++ // the stream ended without its event
			default:
				counts.cut++
				if counts.firstOther == "" {
					counts.firstOther = fmt.Sprintf("200 with %d of %d tools, %d bytes, read error %v", names, allowed, scan.n, rerr)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	return memOutcome{counts: counts, refused: counts.status[503] + counts.ended, heapHold: -1, rssHold: -1, released: -1}
}

// memRawRequest is a POST of tools/list with a token, on its own
// connection.
func memRawRequest(path, tok string) []byte {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`
	return []byte("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + tok +
		"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// memDialAll opens n connections to addr (100 dials at a time) and sends
// each its request.
func memDialAll(addr string, n int, req func(i int) []byte) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	sem := make(chan struct{}, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err == nil {
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				_, err = conn.Write(req(i))
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				if conn != nil {
					_ = conn.Close()
				}
				return
			}
			conns[i] = conn
		}()
	}
	wg.Wait()
	return conns, first
}

func memCloseAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// memProbe is one reading caller's tools/list on the JSON path: its
// status (0 on a transport error).
func memProbe(c *memCaddy) int {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(http.MethodPost, c.Base()+"/json/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`))
	req.Header.Set("Authorization", "Bearer "+memToks[0])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// memNeverRead: n callers POST tools/list (the 15 MiB JSON reply) and
// never read. Without writeIdle the connections are held for cfg.hold
// after the backend saw every request, then measured (VmRSS, live heap,
// a reading caller's status); with it, the measurement waits until Caddy
// has closed every one of them (at most writeIdle + 20 s), and a reading
// caller then gets its list. At the end each connection's first 2 MiB
// are read: its status, and no denied tool in them.
func memNeverRead(t *testing.T, c *memCaddy, be *memBackend, n int, writeIdle time.Duration) memOutcome {
	out := memOutcome{counts: newMemCounts(n), heapHold: -1, rssHold: -1, released: -1}
	posts0 := be.posts.Load()
	sent := time.Now()
	conns, err := memDialAll(c.Addr(), n, func(i int) []byte { return memRawRequest("/json/mcp", memToks[i%len(memToks)]) })
	defer memCloseAll(conns)
	if err != nil {
		out.counts.err(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for be.posts.Load()-posts0 < int64(n) && time.Now().Before(deadline) && !c.wasKilled() {
		time.Sleep(20 * time.Millisecond)
	}
	if writeIdle == 0 {
		time.Sleep(c.cfg.hold)
		out.rssHold = c.rss()
		out.heapHold = c.liveHeap()
		if c.auth {
			c.saveHeap("hold")
			out.probe = memProbe(c)
		}
		out.counts.open = memEstablished(c.Port())
	} else {
		bound := writeIdle + 20*time.Second
		for memEstablished(c.Port()) > 0 && time.Since(sent) < bound && !c.wasKilled() {
			time.Sleep(50 * time.Millisecond)
		}
		if memEstablished(c.Port()) == 0 {
			out.released = time.Since(sent)
		}
		out.rssHold = c.rss()
		out.heapHold = c.liveHeap()
		out.probe = memProbe(c)
	}
	// What each connection got: its status line and the first 2 MiB.
	var wg sync.WaitGroup
	for _, conn := range conns {
		if conn == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			scan := newMemScan(memDenied)
			head := make([]byte, 0, 16)
			buf := make([]byte, 32<<10)
			for scan.n < 2<<20 {
				k, err := conn.Read(buf)
				if len(head) < 12 {
					head = append(head, buf[:min(k, 12-len(head))]...)
				}
				_, _ = scan.Write(buf[:k])
				if err != nil {
					break
				}
			}
			status := 0
			if f := strings.Fields(string(head)); len(f) >= 2 {
				status, _ = strconv.Atoi(f[1])
			}
			out.counts.mu.Lock()
			defer out.counts.mu.Unlock()
			out.counts.status[status]++
			out.counts.bytes += scan.n
			if c.auth && scan.counts[0] > 0 {
				out.counts.leaks++
			}
			if !c.auth && scan.counts[0] > 0 {
				out.counts.unfiltered++
			}
		}()
	}
	wg.Wait()
	out.refused = out.counts.status[503]
	if c.auth && out.probe == http.StatusServiceUnavailable {
		out.refused++
	}
	return out
}

// memStreams: n GET streams at once, each read as it comes and scanned;
// held for cfg.hold after the backend saw every one, then measured, then
// ended by the client. A stream that ended before (EOF or error) was
// ended by Caddy: refused.
func memStreams(t *testing.T, c *memCaddy, path string, n, allowed int) memOutcome {
	out := memOutcome{counts: newMemCounts(n), heapHold: -1, rssHold: -1, released: -1}
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true, ResponseHeaderTimeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ended, opened atomic.Int64
	type stream struct {
		done  chan struct{}
		early atomic.Bool // ended before the client ended it
		scan  *memScan
	}
	streams := make([]*stream, n)
	var clientEnded atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		s := &stream{done: make(chan struct{}), scan: newMemScan(memAllowedPrefix, memDenied)}
		streams[i] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(s.done)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Base()+path, nil)
			req.Header.Set("Authorization", "Bearer "+memToks[i%len(memToks)])
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client.Do(req)
			if err != nil {
				if !clientEnded.Load() {
					out.counts.err(err)
				}
				return
			}
			defer resp.Body.Close()
			out.counts.mu.Lock()
			out.counts.status[resp.StatusCode]++
			out.counts.mu.Unlock()
			opened.Add(1)
			_, _ = io.CopyBuffer(s.scan, resp.Body, make([]byte, 64<<10))
			if !clientEnded.Load() {
				s.early.Store(true)
				ended.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for opened.Load()+int64(out.counts.errs) < int64(n) && time.Now().Before(deadline) && !c.wasKilled() {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(c.cfg.hold)
	out.rssHold = c.rss()
	out.heapHold = c.liveHeap()
	if c.auth {
		c.saveHeap("hold")
	}
	clientEnded.Store(true)
	cancel()
	wg.Wait()
	for _, s := range streams {
		names, denied := s.scan.counts[0], s.scan.counts[1]
		out.counts.bytes += s.scan.n
		if c.auth && denied > 0 {
			out.counts.leaks++
		}
		if !c.auth && denied > 0 {
			out.counts.unfiltered++
		}
		switch {
		case s.early.Load() && names == 0:
			out.counts.ended++
		case s.early.Load():
			out.counts.cut++ // ended after part of its list
		case names == allowed:
			out.counts.complete++
		case names > 0:
			out.counts.cut++
		default:
			out.counts.open++
		}
	}
	out.refused = out.counts.ended
	return out
}

// memSlowBodies: n connections each send a POST declaring
// Content-Length: 1 MiB and no byte of the body; held for cfg.hold, then
// measured and closed. The backend must see none of them through
// mcp_auth (nothing is forwarded before the body is judged).
func memSlowBodies(t *testing.T, c *memCaddy, be *memBackend, n int) memOutcome {
	out := memOutcome{counts: newMemCounts(n), heapHold: -1, rssHold: -1, released: -1}
	posts0 := be.posts.Load()
	conns, err := memDialAll(c.Addr(), n, func(i int) []byte {
		return []byte("POST /json/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + memToks[i%len(memToks)] +
			"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1048576\r\n\r\n")
	})
	defer memCloseAll(conns)
	if err != nil {
		out.counts.err(err)
	}
	// Every connection's headers were read once Caddy has them all open.
	deadline := time.Now().Add(30 * time.Second)
	for memEstablished(c.Port()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(c.cfg.hold)
	out.counts.open = memEstablished(c.Port())
	out.rssHold = c.rss()
	out.heapHold = c.liveHeap()
	if c.auth {
		c.saveHeap("hold")
	}
	out.reached = be.posts.Load() - posts0
	return out
}

// memCompare runs a scenario on the baseline, then on mcp_auth, each on a
// fresh Caddy, asserts the mcp_auth run, and adds the row.
func memCompare(t *testing.T, cfg memConfig, be *memBackend, table *memTable, row string, n int, global string,
	run func(t *testing.T, c *memCaddy) memOutcome) {
	start := time.Now()
	plain := memStartCaddy(t, cfg, be, false, global, t.Name()+"-plain", 0)
	po := run(t, plain)
	plainPeak, plainKilled := plain.peak()
	plain.halt()
	plain.Stop()
	po.liveMax = plain.liveMax()

	bound := cfg.bound(plainPeak)
	auth := memStartCaddy(t, cfg, be, true, global, t.Name(), cfg.budget+plainPeak)
	ref0 := auth.refusals(t)
	ao := run(t, auth)
	authPeak, authKilled := auth.peak()
	auth.saveHeap("end") // alloc_space: every allocation of the run
	ref1 := auth.refusals(t)
	auth.halt()
	auth.Stop()
	ao.liveMax = auth.liveMax()
	budgetRefusals := int(ref1["memory_budget"] - ref0["memory_budget"])
	other := map[string]int{}
	for k, v := range ref1 {
		if d := int(v - ref0[k]); d > 0 && k != "memory_budget" {
			other[k] = d
		}
	}

	r := memRow{scenario: row, callers: n, authPeak: authPeak, authKilled: authKilled, plainPeak: plainPeak, budget: cfg.budget,
		plainKilled: plainKilled, bound: bound, auth: ao, plain: po, budgetRefusals: budgetRefusals, otherRefusals: other,
		took: time.Since(start)}
	table.add(r)
	t.Logf("%s", r.describe())
	if cfg.measure {
		return
	}

	// The baseline shows that the scans can fail: its replies carry the
	// denied tools.
	if po.counts.status[200] > 0 && po.counts.unfiltered == 0 && !strings.HasPrefix(row, "POST") && !strings.Contains(row, "never ends") {
		t.Errorf("baseline: no reply carried the denied tools; the backend or the scan is broken")
	}
	if authKilled {
		t.Fatalf("mcp_auth's Caddy passed %d MiB of RSS and was killed", cfg.cap>>20)
	}
	if authPeak > bound {
		t.Errorf("peak RSS %d MiB > baseline %d + 3 × budget %d + slack %d (= %d MiB)",
			authPeak>>20, plainPeak>>20, cfg.budget>>20, memSlack>>20, bound>>20)
	}
	if ao.heapHold >= 0 && po.heapHold >= 0 {
		limit := po.heapHold + cfg.budget + memHeapSlack
		if strings.HasPrefix(row, "GET streams idle") {
			limit = po.heapHold + memHeapSlack // an idle stream keeps no large buffer
		}
		if ao.heapHold > limit {
			t.Errorf("live heap while the connections were held: %d MiB > %d MiB (baseline %d MiB)", ao.heapHold>>20, limit>>20, po.heapHold>>20)
		}
	} else if strings.HasPrefix(row, "callers that never") || strings.HasPrefix(row, "GET") || strings.HasPrefix(row, "POST") {
		t.Errorf("no live heap at the hold point (mcp_auth %d, baseline %d)", ao.heapHold, po.heapHold)
	}
	ac := ao.counts
	if ac.leaks > 0 {
		t.Errorf("%d replies or streams named a denied tool: unfiltered bytes left", ac.leaks)
	}
	if ac.cut > 0 {
		t.Errorf("%d replies were cut short or incomplete (%s)", ac.cut, ac.firstOther)
	}
	if ac.noRetry > 0 {
		t.Errorf("%d 503s without Retry-After", ac.noRetry)
	}
	if budgetRefusals != ao.refused {
		t.Errorf("callers saw %d refusals for want of memory (503s, streams ended), the metric memory_budget counted %d (other refusal reasons: %v)",
			ao.refused, budgetRefusals, other)
	}
	switch {
	case strings.HasPrefix(row, "JSON list") || strings.HasPrefix(row, "the list as") || strings.HasPrefix(row, "a realistic"):
		if ac.errs > 0 {
			t.Errorf("%d transport errors (first: %s)", ac.errs, ac.firstErr)
		}
		if got := ac.status[200] + ac.status[503]; got != n {
			t.Errorf("statuses %v: want 200 or 503 for every one of %d callers (%s)", ac.status, n, ac.firstOther)
		}
		if ac.complete == 0 {
			t.Errorf("no caller got its list: the budget refused all %d", n)
		}
	case strings.HasPrefix(row, "callers that never read"):
		if got := ac.status[200] + ac.status[503]; got != n {
			t.Errorf("statuses %v: want 200 or 503 for every one of %d never-reading callers", ac.status, n)
		}
		if strings.Contains(row, "write_idle") {
			if ao.released < 0 {
				t.Errorf("Caddy still held never-reading connections %v after they were sent (write_idle %v)", memWriteIdle+20*time.Second, memWriteIdle)
			}
			if ao.probe != 200 {
				t.Errorf("a reading caller after the never-readers were cut off got %d, want 200: the budget did not come back", ao.probe)
			}
		}
	case strings.HasPrefix(row, "GET streams"):
		if ac.errs > 0 || ac.status[200] != n {
			t.Errorf("streams: statuses %v, %d transport errors (first: %s); want %d × 200", ac.status, ac.errs, ac.firstErr, n)
		}
	case strings.HasPrefix(row, "POST declaring"):
		if ao.reached != 0 {
			t.Errorf("%d POSTs whose body never came reached the backend", ao.reached)
		}
		if ac.errs > 0 {
			t.Errorf("%d connections failed (first: %s)", ac.errs, ac.firstErr)
		}
	}
}

// memRow is one line of the table.
type memRow struct {
	scenario            string
	callers             int
	authPeak, plainPeak int64
	authKilled          bool
	plainKilled         bool
	bound, budget       int64
	auth, plain         memOutcome
	budgetRefusals      int
	otherRefusals       map[string]int
	took                time.Duration
}

func memMiB(b int64, killed bool) string {
	if b < 0 {
		return "—"
	}
	s := fmt.Sprintf("%d", b>>20)
	if killed {
		return "> " + s + " (killed)"
	}
	return s
}

func (r memRow) outcome() string {
	c := r.auth.counts
	var parts []string
	keys := make([]int, 0, len(c.status))
	for k := range c.status {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var st []string
	for _, k := range keys {
		st = append(st, fmt.Sprintf("%d×%d", c.status[k], k))
	}
	if len(st) > 0 {
		parts = append(parts, strings.Join(st, " "))
	}
	if c.complete > 0 {
		parts = append(parts, fmt.Sprintf("%d whole lists", c.complete))
	}
	if c.ended > 0 {
		parts = append(parts, fmt.Sprintf("%d streams ended", c.ended))
	}
	if c.open > 0 {
		parts = append(parts, fmt.Sprintf("%d open", c.open))
	}
	if c.cut > 0 {
		parts = append(parts, fmt.Sprintf("%d cut", c.cut))
	}
	if c.leaks > 0 {
		parts = append(parts, fmt.Sprintf("**%d leaked**", c.leaks))
	}
	if c.errs > 0 {
		parts = append(parts, fmt.Sprintf("%d errors", c.errs))
	}
	parts = append(parts, fmt.Sprintf("metric %d", r.budgetRefusals))
	if len(r.otherRefusals) > 0 {
		parts = append(parts, fmt.Sprintf("other refusals %v", r.otherRefusals))
	}
	parts = append(parts, fmt.Sprintf("live heap at most %s MiB (baseline %s)", memMiB(r.auth.liveMax, false), memMiB(r.plain.liveMax, false)))
	if r.auth.rssHold >= 0 {
		parts = append(parts, fmt.Sprintf("held: RSS %s, live heap %s MiB (baseline %s / %s)", memMiB(r.auth.rssHold, false),
			memMiB(r.auth.heapHold, false), memMiB(r.plain.rssHold, false), memMiB(r.plain.heapHold, false)))
	}
	if r.auth.probe != 0 {
		parts = append(parts, fmt.Sprintf("a reader then: %d", r.auth.probe))
	}
	if strings.Contains(r.scenario, "write_idle") {
		if r.auth.released >= 0 {
			parts = append(parts, fmt.Sprintf("connections closed by Caddy %.1fs after sent", r.auth.released.Seconds()))
		} else {
			parts = append(parts, "connections not closed")
		}
	}
	if r.auth.reached > 0 || strings.HasPrefix(r.scenario, "POST") {
		parts = append(parts, fmt.Sprintf("reached the backend: %d (baseline %d)", r.auth.reached, r.plain.reached))
	}
	return strings.Join(parts, "; ")
}

func (r memRow) describe() string {
	return fmt.Sprintf("%s, %d callers: mcp_auth peak %s MiB, plain %s MiB, bound %d MiB; %s (%.1fs)",
		r.scenario, r.callers, memMiB(r.authPeak, r.authKilled), memMiB(r.plainPeak, r.plainKilled), r.bound>>20, r.outcome(), r.took.Seconds())
}

type memTable struct {
	mu   sync.Mutex
	rows []memRow
}

func (tb *memTable) add(r memRow) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows = append(tb.rows, r)
}

func (tb *memTable) emit(t *testing.T, cfg memConfig) {
	var b strings.Builder
	fmt.Fprintf(&b, "budget: %s; binary %s; load average at the end: %s\n\n", cfg.budgetLabel(), testcaddy.Bin(t), memLoad())
	b.WriteString("| scenario | callers | mcp_auth peak RSS (MiB) | plain (MiB) | bound (MiB) | mcp_auth outcome |\n|---|---|---|---|---|---|\n")
	for _, r := range tb.rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d | %s |\n", r.scenario, r.callers, memMiB(r.authPeak, r.authKilled),
			memMiB(r.plainPeak, r.plainKilled), r.bound>>20, r.outcome())
	}
	t.Logf("memory table:\n%s", b.String())
	if p := os.Getenv(memTableEnv); p != "" {
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Errorf("%s: %v", memTableEnv, err)
		}
	}
}

func memLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

package mcpauth

// Benchmarks of the hot path, and memory bounds. Run them with
//
//	go test -run '^$' -bench . -benchmem -count 5 . | tee new.txt
//	benchstat old.txt new.txt
//
// Sub-benchmark names use key=value so that benchstat can group them. The
// memory tests (TestMemory*) assert generously bounded ratios of allocated
// bytes; nothing here asserts a time.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const benchToken = "mcp_bench_7f3a9c1e5b2d4f608a1c3e5f7b9d0a2c"

// benchHandler provisions a handler with n tokens, the first of which is
// benchToken with the roles given.
func benchHandler(tb testing.TB, n int, roles []string, mutate func(*MCPAuth)) *MCPAuth {
	tb.Helper()
	m := &MCPAuth{Roles: testRoles} // the unit tests' roles (rbac_test.go)
	m.Tokens = make([]Token, 0, n)
	m.Tokens = append(m.Tokens, Token{Name: "bench", Secret: hashToken(benchToken), Roles: roles})
	for i := 1; i < n; i++ {
		m.Tokens = append(m.Tokens, Token{
			Name:   "t" + strconv.Itoa(i),
			Secret: hashToken("mcp_other_" + strconv.Itoa(i) + "_0123456789abcdef"),
			Roles:  []string{"reader"},
		})
	}
	if mutate != nil {
		mutate(m)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		tb.Fatalf("provision: %v", err)
	}
	// Caddy's default log level is INFO: debug entries are not built. The
	// test context's logger is at DEBUG, which would measure zap instead.
	m.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	return m
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		m := benchHandler(b, n, []string{"reader"}, nil)
		b.Run(fmt.Sprintf("tokens=%d/hit", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.static.lookup(digestOf(benchToken)) == nil {
					b.Fatal("token not found")
				}
			}
		})
		b.Run(fmt.Sprintf("tokens=%d/miss", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m.static.lookup(digestOf("mcp_bench_not_a_known_token_0000000000000")) != nil {
					b.Fatal("unknown token found")
				}
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	m := benchHandler(b, 1, []string{"reader"}, nil)
	compiled := func(names ...string) []*compiledRole {
		var out []*compiledRole
		for _, n := range names {
			cr, err := compileRole(n, m.Roles[n])
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, cr)
		}
		return out
	}
	call := func(method, target string) Action {
		return Action{Method: method, Target: target, HasTarget: target != ""}
	}
	cases := []struct {
		name  string
		roles []*compiledRole
		a     Action
		allow bool
	}{
		{"lifecycle", compiled("reader"), call("initialize", ""), true},
		{"exact-target", compiled("reader"), call("tools/call", "search_docs"), true},
		{"glob-target", compiled("reader"), call("tools/call", "get_weather"), true},
		{"no-match", compiled("reader"), call("tools/call", "delete_db"), false},
		{"deny-wins", compiled("admin", "no-secrets"), call("resources/read", "file:///etc/secret.txt"), false},
		{"three-roles-allow", compiled("no-secrets", "reader", "admin"), call("prompts/get", "summarize"), true},
	}
	for _, c := range cases {
		b.Run("case="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if decide(c.roles, c.a).Allowed != c.allow {
					b.Fatal("wrong decision")
				}
			}
		})
	}
}

// toolsCall returns a tools/call body of exactly size bytes (size ≥ 128).
func toolsCall(size int) []byte {
	const head = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo","note":"`
	const tail = `"}}}`
	pad := size - len(head) - len(tail)
	if pad < 0 {
		panic("size too small")
	}
	return []byte(head + strings.Repeat("x", pad) + tail)
}

var classifySizes = []struct {
	name string
	n    int
}{{"200B", 200}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

func BenchmarkClassify(b *testing.B) {
	for _, s := range classifySizes {
		body := toolsCall(s.n)
		b.Run("size="+s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			var parsed wire.Body
			for b.Loop() {
				err := wire.Classify(body, &parsed)
				if err != nil || len(parsed.Msgs) != 1 || parsed.Msgs[0].Action.Target != "get_weather" {
					b.Fatalf("classify: %v %+v", err, parsed.Msgs)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but its header map,
// so the benchmark measures the handler and not the recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// reusableBody is a request body that can be rewound without allocating.
type reusableBody struct {
	b   []byte
	off int
}

func (r *reusableBody) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *reusableBody) Close() error { return nil }

// serveBench drives ServeHTTP with one request that is rewound before each
// call, and a next handler that only drains and closes the body, so
// allocs/op counts the handler's own allocations only. With fresh
// set, the replacer is replaced by a new empty one each time, as Caddy does
// per request (its own cost is then measured by the "replacer-only" case).
type serveBench struct {
	m      *MCPAuth
	r      *http.Request
	repl   *caddy.Replacer
	body   *reusableBody
	auth   []string
	w      *discardWriter
	next   caddyhttp.Handler
	method string
}

func newServeBench(b *testing.B, method string, body []byte) *serveBench {
	m := benchHandler(b, 2, []string{"reader"}, nil)
	s := &serveBench{m: m, method: method, auth: []string{"Bearer " + benchToken}, w: &discardWriter{h: http.Header{}}}
	s.r = httptest.NewRequest(method, "/mcp", nil)
	s.r.Header.Set("Accept", "application/json, text/event-stream")
	if method == http.MethodPost {
		s.r.Header.Set("Content-Type", "application/json")
		s.body = &reusableBody{b: body}
	}
	s.repl = caddyhttp.NewTestReplacer(s.r)
	s.next = caddyhttp.HandlerFunc(transportNext)
	return s
}

// transportNext stands for reverse_proxy: it does with the body what Go's
// HTTP transport does (reads it to the end and closes it; a pooled body
// goes back to its pool on Close) and answers nothing.
func transportNext(w http.ResponseWriter, r *http.Request) error {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		return r.Body.Close()
	}
	return nil
}

func (s *serveBench) reset(fresh bool) {
	s.r.Header["Authorization"] = s.auth
	if s.body != nil {
		s.body.off = 0
		s.r.Body = s.body
		s.r.ContentLength = int64(len(s.body.b))
	}
	s.w.status = 0
	if fresh {
		*s.repl = *caddy.NewReplacer()
	}
}

func (s *serveBench) run(b *testing.B, fresh bool) {
	b.ReportAllocs()
	if s.body != nil {
		b.SetBytes(int64(len(s.body.b)))
	}
	for b.Loop() {
		s.reset(fresh)
		if err := s.m.ServeHTTP(s.w, s.r, s.next); err != nil || s.w.status != 0 {
			b.Fatalf("ServeHTTP: err %v, status %d", err, s.w.status)
		}
	}
}

func BenchmarkServeHTTP(b *testing.B) {
	b.Run("req=GET", func(b *testing.B) {
		newServeBench(b, http.MethodGet, nil).run(b, false)
	})
	b.Run("req=POST-1KiB", func(b *testing.B) {
		newServeBench(b, http.MethodPost, toolsCall(1<<10)).run(b, false)
	})
}

// BenchmarkServeHTTPFreshReplacer gives each call a new, empty replacer,
// as in Caddy, so the cost of the placeholders the handler sets shows. The
// replacer-only case is what the fresh replacer itself costs: subtract it.
func BenchmarkServeHTTPFreshReplacer(b *testing.B) {
	b.Run("req=replacer-only", func(b *testing.B) {
		s := newServeBench(b, http.MethodGet, nil)
		b.ReportAllocs()
		for b.Loop() {
			s.reset(true)
		}
	})
	b.Run("req=GET", func(b *testing.B) {
		newServeBench(b, http.MethodGet, nil).run(b, true)
	})
	b.Run("req=POST-1KiB", func(b *testing.B) {
		newServeBench(b, http.MethodPost, toolsCall(1<<10)).run(b, true)
	})
}

// patternReader yields n bytes of c without allocating.
type patternReader struct {
	n int64
	c byte
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

func (r *patternReader) Close() error { return nil }

const hugeBody = 100 << 20

// memCase is one request whose heap cost is measured.
type memCase struct {
	name    string
	maxBody int64
	req     func() *http.Request
	status  int // expected; 0 means forwarded
}

func memCases() []memCase {
	batch := batchBody(wire.MaxBatch)
	over := batchBody(wire.MaxBatch + 1)
	return []memCase{
		{"body=100MiB-chunked", 0, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body = &patternReader{n: hugeBody, c: ' '}
			r.ContentLength = -1
			return r
		}, http.StatusRequestEntityTooLarge},
		{"body=100MiB-declared", 0, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body = &patternReader{n: hugeBody, c: ' '}
			r.ContentLength = hugeBody
			return r
		}, http.StatusRequestEntityTooLarge},
		{"batch=100", 4 << 20, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body = &reusableBody{b: batch}
			r.ContentLength = int64(len(batch))
			return r
		}, 0},
		{"batch=101", 4 << 20, func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Body = &reusableBody{b: over}
			r.ContentLength = int64(len(over))
			return r
		}, http.StatusBadRequest},
		// Each entry of a subscriptions/listen array is judged or rewritten
		// (a task id becomes a random one): bounded by wire.MaxListen.
		{"listen-taskIds=max", 0, listenReq(`"taskIds":[`, `""`, wire.MaxListen), 0},
		{"listen-taskIds=330k", 0, listenReq(`"taskIds":[`, `""`, 330_000), http.StatusBadRequest},
		{"listen-subscriptions=max", 0, listenReq(`"resourceSubscriptions":[`, `"x-a:"`, wire.MaxListen), http.StatusOK}, // the first denied one answers -32030
		{"listen-subscriptions=140k", 0, listenReq(`"resourceSubscriptions":[`, `"x-a:"`, 140_000), http.StatusBadRequest},
	}
}

// listenReq is a 2026-07-28 subscriptions/listen whose notifications
// object holds one array of n copies of entry.
func listenReq(array, entry string, n int) func() *http.Request {
	b := []byte(`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{` + array +
		strings.Repeat(entry+",", n-1) + entry + `]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Body = &reusableBody{b: b}
		r.ContentLength = int64(len(b))
		r.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		r.Header.Set("Mcp-Method", "subscriptions/listen")
		return r
	}
}

// batchBody is a batch of n allowed tools/call requests.
func batchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('[')
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_weather","arguments":{"city":"Oslo"}}}`, i)
	}
	sb.WriteByte(']')
	return []byte(sb.String())
}

// serveOnce runs one request through m and returns the status (0 when
// forwarded) and the bytes allocated meanwhile.
func serveOnce(tb testing.TB, m *MCPAuth, r *http.Request) (int, uint64) {
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+benchToken)
	caddyhttp.NewTestReplacer(r)
	w := &discardWriter{h: http.Header{}}
	next := caddyhttp.HandlerFunc(transportNext)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := m.ServeHTTP(w, r, next)
	runtime.ReadMemStats(&after)
	if err != nil {
		tb.Fatalf("ServeHTTP: %v", err)
	}
	return w.status, after.TotalAlloc - before.TotalAlloc
}

// TestMemoryBounded checks that what one request allocates is bounded by
// max_body, not by what the client sends: a 100 MiB body is refused after
// reading max_body+1 bytes, and a 10,000-element batch costs a small
// multiple of its own size. The bounds are deliberately generous: this
// guards against unbounded growth, not against a few percent.
func TestMemoryBounded(t *testing.T) {
	for _, c := range memCases() {
		t.Run(c.name, func(t *testing.T) {
			m := benchHandler(t, 1, []string{"reader"}, func(m *MCPAuth) { m.MaxBody = c.maxBody })
			r := c.req()
			size := r.ContentLength
			status, alloc := serveOnce(t, m, r)
			if status != c.status {
				t.Fatalf("status %d, want %d", status, c.status)
			}
			var limit uint64
			switch c.name {
			case "body=100MiB-chunked":
				limit = 8 * uint64(m.MaxBody) // read at most max_body+1, in a growing buffer
			case "body=100MiB-declared":
				limit = 64 << 10 // refused from Content-Length, nothing read
			case "listen-taskIds=max", "listen-subscriptions=max":
				limit = 1 << 20 // ~300 bytes an entry, whatever the body
			default:
				limit = 16 * uint64(size)
			}
			t.Logf("%s: allocated %d bytes = %.2f× max_body (%d); limit %d", c.name, alloc, float64(alloc)/float64(m.MaxBody), m.MaxBody, limit)
			if size > 0 {
				t.Logf("%s: = %.2f× the body (%d bytes)", c.name, float64(alloc)/float64(size), size)
			}
			if alloc > limit {
				t.Errorf("allocated %d bytes, more than %d", alloc, limit)
			}
		})
	}
}

// BenchmarkMemory reports the same cases as B/op, for benchstat.
func BenchmarkMemory(b *testing.B) {
	for _, c := range memCases() {
		b.Run(c.name, func(b *testing.B) {
			m := benchHandler(b, 1, []string{"reader"}, func(m *MCPAuth) { m.MaxBody = c.maxBody })
			w := &discardWriter{h: http.Header{}}
			next := caddyhttp.HandlerFunc(transportNext)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				r := c.req()
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Authorization", "Bearer "+benchToken)
				caddyhttp.NewTestReplacer(r)
				w.status = 0
				b.StartTimer()
				if err := m.ServeHTTP(w, r, next); err != nil || w.status != c.status {
					b.Fatalf("ServeHTTP: err %v, status %d", err, w.status)
				}
			}
		})
	}
}

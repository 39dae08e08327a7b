package mcpauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func readerRoles(t testing.TB) []*compiledRole { return mustRoles(t, testRoles, "reader") }

// flushRecorder counts flushes and snapshots the body at each.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes []string
}

func (f *flushRecorder) Flush() { f.flushes = append(f.flushes, f.Body.String()) }

// testSessionKey binds the ids of the writer tests.
var testSessionKey = []byte("0123456789abcdef0123456789abcdef")

var testKeys = func() *bindingKeys {
	k, err := deriveKeys(testSessionKey)
	if err != nil {
		panic(err)
	}
	return k
}()

// newReplyWriter is a reply writer for a caller with these roles, as
// forward sets one up.
func newReplyWriter(w http.ResponseWriter, roles []*compiledRole, bufferJSON bool) *responseWriter {
	owners, _ := sharedTaskOwners()
	rw := &responseWriter{
		ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: w},
		m:                     &MCPAuth{owners: owners},
		roles:                 roles,
		bufferJSON:            bufferJSON,
		keys:                  testKeys,
		principal:             "token:bob",
		bindSession:           true,
	}
	rw.rewrite = wire.Rewriter{Policy: rw, Binder: rw}
	return rw
}

func newTestWriter(t testing.TB, bufferJSON bool) (*responseWriter, *flushRecorder) {
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	return newReplyWriter(rec, readerRoles(t), bufferJSON), rec
}

func TestResponseWriterSSE(t *testing.T) {
	rw, rec := newTestWriter(t, false)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Content-Length", "999")
	rw.Header().Set("Mcp-Session-Id", "s1")
	rw.WriteHeader(200)
	if rec.Header().Get("Content-Length") != "" || rec.Header().Get("Mcp-Session-Id") != wrapSessionID(testSessionKey, "token:bob", "s1") {
		t.Fatalf("headers: %v", rec.Header())
	}
	progress := "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n\n"
	// An event split across writes is held until it ends, then flushed.
	_, _ = rw.Write([]byte(progress[:20]))
	if rec.Body.Len() != 0 {
		t.Fatal("half an event was passed on")
	}
	_, _ = rw.Write([]byte(progress[20:]))
	if rec.Body.String() != progress || len(rec.flushes) == 0 || rec.flushes[len(rec.flushes)-1] != progress {
		t.Fatalf("the complete event was not written and flushed at once: %q, flushes %q", rec.Body.String(), rec.flushes)
	}
	list := "id: 2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"get_a\"},\r\ndata: {\"name\":\"rm\"}]}}\r\n\r\n"
	_, _ = rw.Write([]byte(list))
	want := progress + "id: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"cacheScope\":\"private\",\"tools\":[{\"name\":\"get_a\"}]}}\n\n"
	if rec.Body.String() != want {
		t.Fatalf("got %q\nwant %q", rec.Body.String(), want)
	}
	// Two events in one write, CR line ends.
	two := "data: {\"a\":1}\r\rdata: {\"b\":2}\r\r"
	_, _ = rw.Write([]byte(two))
	if !strings.HasSuffix(rec.Body.String(), two) {
		t.Fatalf("CR events: %q", rec.Body.String())
	}
	if rw.finish() {
		t.Error("finish reported a refusal")
	}
}

func TestResponseWriterSSEUnfilterableEndsStream(t *testing.T) {
	rw, rec := newTestWriter(t, false)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(200)
	_, err := rw.Write([]byte("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"rm\"}],\"tools\":[]}}\n\n"))
	if err == nil || strings.Contains(rec.Body.String(), "rm") {
		t.Fatalf("an ambiguous list went through: %q (err %v)", rec.Body.String(), err)
	}
	big := append([]byte("data: "), bytes.Repeat([]byte("x"), maxFilteredResponse+1)...)
	rw2, rec2 := newTestWriter(t, false)
	rw2.Header().Set("Content-Type", "text/event-stream")
	rw2.WriteHeader(200)
	if _, err := rw2.Write(big); err == nil || rec2.Body.Len() != 0 {
		t.Fatal("an oversized event was not refused")
	}
}

func TestResponseWriterJSON(t *testing.T) {
	rw, rec := newTestWriter(t, true)
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Content-Length", "100")
	rw.WriteHeader(200)
	body := `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"},{"name":"get_a"}],"nextCursor":"n"}}`
	_, _ = rw.ReadFrom(strings.NewReader(body[:30]))
	_, _ = rw.Write([]byte(body[30:]))
	if rec.Body.Len() != 0 {
		t.Fatal("a JSON list reply was passed on before it was filtered")
	}
	if rw.finish() {
		t.Fatal("refused")
	}
	// The cursor comes back sealed for this caller and list.
	var got struct {
		Result struct {
			NextCursor string `json:"nextCursor"`
		} `json:"result"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if c, ok := testKeys.openCursor("token:bob", "tools/list", got.Result.NextCursor); !ok || c != "n" {
		t.Fatalf("cursor %q opens to %q %v", got.Result.NextCursor, c, ok)
	}
	want := `{"jsonrpc":"2.0","id":1,"result":{"cacheScope":"private","tools":[{"name":"get_a"}],"nextCursor":` + wire.Quote(got.Result.NextCursor) + `}}`
	if rec.Body.String() != want || rec.Header().Get("Content-Length") != fmt.Sprint(len(want)) || rec.Code != 200 {
		t.Fatalf("got %d %q (Content-Length %s)", rec.Code, rec.Body.String(), rec.Header().Get("Content-Length"))
	}

	// Not a list request: passed through as it comes.
	rw2, rec2 := newTestWriter(t, false)
	rw2.Header().Set("Content-Type", "application/json")
	rw2.WriteHeader(200)
	_, _ = rw2.Write([]byte(body))
	if rec2.Body.String() != body {
		t.Fatal("a reply to a non-list request was held")
	}

	// Compressed or oversized list replies are withheld: 502.
	for _, setup := range []func(*responseWriter){
		func(rw *responseWriter) {
			rw.Header().Set("Content-Encoding", "gzip")
			rw.WriteHeader(200)
			_, _ = rw.Write([]byte("x"))
		},
		func(rw *responseWriter) {
			rw.WriteHeader(200)
			_, _ = rw.Write(bytes.Repeat([]byte(" "), maxFilteredResponse))
			_, _ = rw.Write([]byte(body))
		},
		func(rw *responseWriter) { rw.WriteHeader(200); _, _ = rw.Write([]byte(body[:60])) },
	} {
		rw, rec := newTestWriter(t, true)
		rw.Header().Set("Content-Type", "application/json")
		setup(rw)
		if !rw.finish() || rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "rm") ||
			!strings.Contains(rec.Body.String(), `"code":-32603`) {
			t.Errorf("got %d %q", rec.Code, rec.Body.String())
		}
	}
}

func TestSessionBinding(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	w := wrapSessionID(key, "token:alice", "sid-1")
	if sid, ok := unwrapSessionID(key, "token:alice", w); !ok || sid != "sid-1" {
		t.Fatalf("unwrap own: %q %v", sid, ok)
	}
	for name, tc := range map[string]struct{ principal, id string }{
		"other principal":     {"token:bob", w},
		"jwt with same name":  {"jwt:https://as#alice", w},
		"tampered sid":        {"token:alice", w + "x"},
		"tampered mac":        {"token:alice", "A" + w[1:]},
		"bare backend id":     {"token:alice", "sid-1"},
		"empty sid":           {"token:alice", w[:macLen+1]},
		"other key":           {"token:alice", wrapSessionID([]byte("another key of thirty-two bytes!"), "token:alice", "sid-1")},
		"principal/sid shift": {"token:alic", wrapSessionID(key, "token:alic", "e\x00sid-1")[:0] + w},
	} {
		if _, ok := unwrapSessionID(key, tc.principal, tc.id); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// statusLog records every status written (httptest.ResponseRecorder keeps
// only the first, a 1xx here).
type statusLog struct {
	*httptest.ResponseRecorder
	statuses []int
}

func (s *statusLog) WriteHeader(code int) {
	s.statuses = append(s.statuses, code)
	if code >= 200 {
		s.ResponseRecorder.WriteHeader(code)
	}
}

// TestResponseWriterInformational: a 103 before the final answer passes
// through and does not fix the mode.
func TestResponseWriterInformational(t *testing.T) {
	rec := &statusLog{ResponseRecorder: httptest.NewRecorder()}
	rw := newReplyWriter(rec, readerRoles(t), true)
	rw.Header().Set("Link", "</x>; rel=preload")
	rw.WriteHeader(http.StatusEarlyHints)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(200)
	_, _ = rw.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"rm"},{"name":"get_a"}]}}`))
	if rw.finish() {
		t.Fatal("refused")
	}
	if fmt.Sprint(rec.statuses) != "[103 200]" || rec.Body.String() != `{"jsonrpc":"2.0","id":1,"result":{"cacheScope":"private","tools":[{"name":"get_a"}]}}` {
		t.Errorf("got %v %s", rec.statuses, rec.Body.String())
	}
}

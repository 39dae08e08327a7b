package mcpauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// listReply500 is a tools/list reply of 500 tools shaped like a real
// server's (title, description, an input schema), with a nextCursor and
// _meta; every third tool is named get_* and so may be called by the
// reader of testRoles (167 of 500).
func listReply500(tb testing.TB) []byte {
	tb.Helper()
	type tool struct {
		Name        string         `json:"name"`
		Title       string         `json:"title"`
		Description string         `json:"description"`
		InputSchema map[string]any `json:"inputSchema"`
	}
	tools := make([]tool, 500)
	for i := range tools {
		name := fmt.Sprintf("tool_%03d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("get_%03d", i)
		}
		tools[i] = tool{
			Name:        name,
			Title:       "Tool " + name,
			Description: "Does the thing number " + name + " with the given arguments and returns the result as text.",
			InputSchema: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"query": map[string]any{"type": "string", "description": "What to look for."},
					"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": 100},
				},
				"required": []string{"query"},
			},
		}
	}
	msg, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      7,
		"result":  map[string]any{"tools": tools, "nextCursor": "c2Vjb25kIHBhZ2U", "_meta": map[string]any{"k": 1}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// BenchmarkFilterList500 filters a 500-tool tools/list reply (about 160
// KB) for a reader who may call a third of the tools, and for an admin who
// may call all of them (nothing to drop), through the reply writer as
// forward uses it (reused, as the pooled exchange reuses it). JSON: the
// reply buffered, rewritten and written. SSE: the reply as one event in 32
// KiB writes, as reverse_proxy copies. The sink only counts bytes.
func BenchmarkFilterList500(b *testing.B) {
	msg := listReply500(b)
	event := []byte("event: message\nid: 1\ndata: " + string(msg) + "\n\n")
	for _, who := range []struct {
		name  string
		role  string
		kept  int
		total int
	}{
		{"reader", "reader", 167, 500},
		{"admin", "admin", 500, 500},
	} {
		roles := mustRoles(b, testRoles, who.role)

		// Check once what is measured.
		out := filterJSON(b, roles, msg).Body.Bytes()
		var got struct {
			Result struct {
				Tools      []struct{ Name string } `json:"tools"`
				NextCursor string                  `json:"nextCursor"`
			} `json:"result"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			b.Fatal(err)
		}
		if c, ok := testKeys.openCursor("token:bob", "tools/list", got.Result.NextCursor); len(got.Result.Tools) != who.kept || !ok || c != "c2Vjb25kIHBhZ2U" {
			b.Fatalf("%s: kept %d tools (cursor %q), want %d", who.name, len(got.Result.Tools), got.Result.NextCursor, who.kept)
		}
		rec := writeSSE(roles, event)
		if body := rec.Body.String(); !strings.HasSuffix(body, "\n\n") || strings.Count(body, `"name":`) != who.kept {
			b.Fatalf("%s: SSE output holds %d names, want %d", who.name, strings.Count(body, `"name":`), who.kept)
		}

		b.Run("JSON/"+who.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			w := &discard{h: http.Header{}}
			rw := newReplyWriter(w, roles, true)
			for b.Loop() {
				rw.mode, rw.buf, rw.failed = modeUndecided, rw.buf[:0], false
				w.h.Set("Content-Type", "application/json")
				rw.WriteHeader(http.StatusOK)
				_, _ = rw.Write(msg)
				if rw.finish() || w.n != len(out) {
					b.Fatalf("refused, or wrote %d bytes, want %d", w.n, len(out))
				}
				w.n = 0
			}
		})
		b.Run("SSE/"+who.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(event)))
			// One writer for every stream, as the pooled exchange reuses
			// it; the sink only counts.
			w := &discard{h: http.Header{}}
			rw := newReplyWriter(w, roles, false)
			want := len(rec.Body.String())
			for b.Loop() {
				rw.mode, rw.buf, rw.failed = modeUndecided, rw.buf[:0], false
				w.h.Set("Content-Type", "text/event-stream")
				rw.WriteHeader(http.StatusOK)
				for p := event; len(p) > 0; {
					n := min(32<<10, len(p))
					_, _ = rw.Write(p[:n])
					p = p[n:]
				}
				if w.n != want {
					b.Fatalf("wrote %d bytes, want %d", w.n, want)
				}
				w.n = 0
			}
		})
	}
}

// writeSSE passes an event stream through a fresh responseWriter, as
// reverse_proxy does, and returns the recorder.
func writeSSE(roles []*compiledRole, stream []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, roles, false)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(http.StatusOK)
	const chunk = 32 << 10
	for p := stream; len(p) > 0; {
		n := min(chunk, len(p))
		_, _ = rw.Write(p[:n])
		rw.Flush()
		p = p[n:]
	}
	rw.finish()
	return rec
}

// filterJSON passes a JSON list reply through a fresh reply writer.
func filterJSON(tb testing.TB, roles []*compiledRole, msg []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, roles, true)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(msg)
	if rw.finish() {
		tb.Fatal("the list reply was refused")
	}
	return rec
}

// discard is a ResponseWriter that keeps nothing but its header and a
// count of what was written.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) Write(p []byte) (int, error) {
	d.n += len(p)
	return len(p), nil
}
func (d *discard) WriteHeader(int) {}

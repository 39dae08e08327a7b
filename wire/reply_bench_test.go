package wire

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// list500 is a tools/list reply of 500 tools shaped like a real server's.
func list500() []byte {
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
		tools[i] = tool{name, "Tool " + name, "Does the thing number " + name + " with the given arguments and returns the result as text.",
			map[string]any{"type": "object", "properties": map[string]any{
				"query": map[string]any{"type": "string", "description": "What to look for."},
				"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}}, "required": []string{"query"}}}
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "result": map[string]any{"tools": tools, "nextCursor": "c2"}})
	return b
}

// BenchmarkRewriteList500: the rewriter alone on a 500-tool list (the
// validation and the walk; no copy), and the validation alone.
//
//	go test -run '^$' -bench RewriteList500 -benchmem ./wire
func BenchmarkRewriteList500(b *testing.B) {
	msg := list500()
	rw := &Rewriter{Policy: testPolicy{use: func(_, item string) bool { return strings.HasPrefix(item, "get_") }}}
	b.Run("rewrite", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		var edits Edits
		for b.Loop() {
			var err error
			if edits, _, err = rw.Message(msg, edits[:0]); err != nil || len(edits) < 100 {
				b.Fatal(err, len(edits))
			}
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if !ValidJSON(msg) {
				b.Fatal()
			}
		}
	})
}

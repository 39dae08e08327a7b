package mcpauth

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// loopServe drives s's request through ServeHTTP with next as the
// backend, expecting want as the status the client gets (0: none written
// by the handler itself).
func loopServe(b *testing.B, s *serveBench, next caddyhttp.Handler, want int) {
	b.ReportAllocs()
	b.SetBytes(int64(len(s.body.b)))
	for b.Loop() {
		s.reset(false)
		clear(s.w.h)
		if err := s.m.ServeHTTP(s.w, s.r, next); err != nil || s.w.status != want {
			b.Fatalf("ServeHTTP: err %v, status %d", err, s.w.status)
		}
	}
}

// BenchmarkServeHTTPReply: a tools/call whose backend answers 4 KiB of
// JSON. Under 2025-11-25 the reply passes through; under 2026-07-28 it is
// read whole, since it may carry a request state or a task to bind.
func BenchmarkServeHTTPReply(b *testing.B) {
	reply := []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"` + strings.Repeat("y", 4<<10) + `"}]}}`)
	length := strconv.Itoa(len(reply))
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(reply)
		return err
	})
	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		b.Run("rev="+rev, func(b *testing.B) {
			s := newServeBench(b, http.MethodPost, toolsCall(1<<10))
			s.r.Header.Set("Mcp-Protocol-Version", rev)
			loopServe(b, s, next, http.StatusOK)
		})
	}
}

// BenchmarkServeHTTPJWT: a tools/call with a cached RS256 access token,
// on a handler that has static tokens too (both are looked up).
func BenchmarkServeHTTPJWT(b *testing.B) {
	keys(b)
	srv := newJWKSServer(b, rsaKey1S)
	m := newOAuthHandler(b, srv.URL, nil)
	waitKeys(b, m)
	m.logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	s := newServeBench(b, http.MethodPost, []byte(callSearch))
	s.m = m
	s.r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	s.auth = []string{"Bearer " + sign(b, rsaKey1S, goodClaims())}
	b.Run("cached", func(b *testing.B) {
		loopServe(b, s, caddyhttp.HandlerFunc(transportNext), 0)
	})
}

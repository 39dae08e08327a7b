package mcpauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMetrics(t *testing.T) {
	m := newHandler(t, nil)
	serve(t, m, &spy{}, post(callEcho, bobToken))
	serve(t, m, &spy{}, post(callEcho, bobToken))
	serve(t, m, &spy{}, post(callDelete, aliceToken))
	serve(t, m, &spy{}, post(`{"jsonrpc":"2.0","id":1,"method":"x/`+"evil-\u2603"+`"}`, bobToken))
	serve(t, m, &spy{}, post(callEcho, "wrong-token"))
	serve(t, m, &spy{}, post(callEcho, ""))
	serve(t, m, &spy{}, post(`{"jsonrpc":`, bobToken))
	get := httptest.NewRequest("GET", "/mcp", nil)
	get.Header.Set("Authorization", "Bearer "+bobToken)
	serve(t, m, &spy{}, get)

	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"allow", "reader", "tools/call"}, 2},
		{[]string{"deny", "admin", "tools/call"}, 1},
		{[]string{"deny", "none", "other"}, 1}, // the client's method name never becomes a label
		{[]string{"allow", "lifecycle", "GET"}, 1},
	} {
		if got := testutil.ToFloat64(m.metrics.decisions.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("decisions%v = %v, want %v", c.labels, got, c.want)
		}
	}
	for reason, want := range map[string]float64{"invalid_token": 1, "unauthorized": 1, "malformed": 1} {
		if got := testutil.ToFloat64(m.metrics.refusals.WithLabelValues(reason)); got != want {
			t.Errorf("refusals{%s} = %v, want %v", reason, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.metrics.decisions); n != 4 {
		t.Errorf("%d decision series, want 4", n)
	}
}

// TestMetricsSurviveReload provisions twice against one registry, as a
// reload does: the second registration reuses the first collectors.
func TestMetricsSurviveReload(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a, err := newMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.decision("allow", "r", "ping")
	if got := testutil.ToFloat64(b.decisions.WithLabelValues("allow", "r", "ping")); got != 1 {
		t.Errorf("the reloaded handler counts apart: %v", got)
	}
}

func TestMetricsJWKSRefreshes(t *testing.T) {
	keys(t)
	down := newJWKSServer(t)
	down.set(http.StatusInternalServerError)
	m := newOAuthHandler(t, down.URL, nil)
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.metrics.jwksRefreshes.WithLabelValues("error")) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no failed JWKS fetch counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	up := newJWKSServer(t, rsaKey1S)
	m2 := newOAuthHandler(t, up.URL, nil)
	waitKeys(t, m2)
	if got := testutil.ToFloat64(m2.metrics.jwksRefreshes.WithLabelValues("ok")); got < 1 {
		t.Errorf("jwks_refreshes_total{result=ok} = %v after a key set arrived", got)
	}
}

// TestEveryRefusalCountedAndAudited: the refusals that used to be written
// on the side (405, 413, 415, a repeated Mcp-Session-Id, a body on GET, a
// header mismatch, a forged request state) are each counted under their
// own reason and audited with it, like every other refusal (issue 10).
func TestEveryRefusalCountedAndAudited(t *testing.T) {
	m := newHandler(t, func(m *MCPAuth) { m.Audit = true; m.MaxBody = 1024 })
	core, logs := observer.New(zap.InfoLevel)
	m.audit = zap.New(core)
	for _, c := range []struct {
		reason string
		status int
		req    func() *http.Request
	}{
		{reasonMethod, 405, func() *http.Request { r := post(callEcho, bobToken); r.Method = http.MethodPut; return r }},
		{reasonTooLarge, 413, func() *http.Request { return post(`{"x":"`+strings.Repeat("a", 2048)+`"}`, bobToken) }},
		{reasonMediaType, 415, func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}},
		{reasonSessionRepeated, 400, func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Add("Mcp-Session-Id", "a")
			r.Header.Add("Mcp-Session-Id", "b")
			return r
		}},
		{reasonBodyNotAllowed, 400, func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/mcp", strings.NewReader("x"))
			r.Header.Set("Authorization", "Bearer "+bobToken)
			return r
		}},
		{reasonHeaderMismatch, 400, func() *http.Request {
			r := post(callEcho, bobToken)
			r.Header.Set("Mcp-Method", "tools/list")
			return r
		}},
		{reasonRequestState, 400, func() *http.Request {
			return post(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","requestState":"forged"}}`, bobToken)
		}},
	} {
		before := testutil.ToFloat64(m.metrics.refusals.WithLabelValues(c.reason))
		n := len(logs.All())
		next := &spy{}
		res := serve(t, m, next, c.req())
		if res.status != c.status || next.calls != 0 {
			t.Errorf("%s: %d (forwarded %d) %s", c.reason, res.status, next.calls, res.body)
		}
		if got := testutil.ToFloat64(m.metrics.refusals.WithLabelValues(c.reason)) - before; got != 1 {
			t.Errorf("%s: counted %v times", c.reason, got)
		}
		audited := false
		for _, e := range logs.All()[n:] {
			f := e.ContextMap()
			audited = audited || f["decision"] == "deny" && f["rule"] == c.reason // principal too, once authenticated
		}
		if !audited {
			t.Errorf("%s: not audited: %v", c.reason, logs.All()[n:])
		}
	}
}

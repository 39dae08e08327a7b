package mcpauth

import (
	"errors"
	"strings"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Prometheus metrics, registered in Caddy's registry (served by Caddy's
// metrics endpoint). Label values come from fixed sets only — configured
// role names, known MCP methods or "other", fixed refusal reasons — never
// from raw client input, so cardinality stays bounded.
type metrics struct {
	decisions     *prometheus.CounterVec // outcome, role, method
	refusals      *prometheus.CounterVec // reason
	jwksRefreshes *prometheus.CounterVec // result: ok, error
}

const metricsNamespace = "caddy_mcp_auth"

func newMetrics(ctx caddy.Context) (*metrics, error) {
	reg := registryOf(ctx)
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "decisions_total",
			Help:      "Decisions on JSON-RPC messages and GET/DELETE requests of authenticated callers, by outcome, deciding role and method.",
		}, []string{"outcome", "role", "method"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "refusals_total",
			Help:      "Requests refused before or instead of reaching the backend, by reason.",
		}, []string{"reason"}),
		jwksRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Name:      "jwks_refreshes_total",
			Help:      "Fetches of JWKS key sets (jwt with jwks_url), by result.",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	defer func() {
		// Every reason has its series from the start (at zero), so that
		// a rate over it is defined before the first refusal.
		for _, r := range refusalReasons {
			m.refusals.WithLabelValues(r)
		}
	}()
	var err error
	if m.decisions, err = register(reg, m.decisions); err != nil {
		return nil, err
	}
	if m.refusals, err = register(reg, m.refusals); err != nil {
		return nil, err
	}
	if m.jwksRefreshes, err = register(reg, m.jwksRefreshes); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a reload registers again).
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

// registryOf returns the config's metrics registry, or nil for a context
// that has none.
func registryOf(ctx caddy.Context) (reg prometheus.Registerer) {
	defer func() {
		if recover() != nil {
			reg = nil
		}
	}()
	return ctx.GetMetricsRegistry()
}

// Method labels: the methods of the registry (wire.Methods), the HTTP
// methods GET and DELETE, "notifications" and "other".
func methodLabel(method string) string {
	switch {
	case isRegistered(method):
		return method
	case strings.HasPrefix(method, "notifications/"):
		return "notifications"
	}
	return "other"
}

// roleLabel names the role whose rule decided: a configured role name,
// "lifecycle", or "none".
func roleLabel(d Decision) string {
	switch {
	case d.Lifecycle:
		return "lifecycle"
	case d.Rule != nil:
		return d.Rule.role
	}
	return "none"
}

func (m *metrics) decision(outcome, role, method string) {
	if m != nil {
		m.decisions.WithLabelValues(outcome, role, method).Inc()
	}
}

func (m *metrics) refusal(reason string) {
	if m != nil {
		m.refusals.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) jwksRefresh(ok bool) {
	if m == nil {
		return
	}
	result := "error"
	if ok {
		result = "ok"
	}
	m.jwksRefreshes.WithLabelValues(result).Inc()
}

func isRegistered(method string) bool {
	_, ok := wire.Lookup(method)
	return ok && !strings.HasPrefix(method, "notifications/")
}

package mcpauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
)

// Defaults of the key set fetcher.
const (
	defaultRefetchInterval = 30 * time.Second
	defaultMinRefresh      = time.Minute
	defaultMaxRefresh      = 24 * time.Hour
	defaultNoCacheRefresh  = time.Hour
	maxJWKSBody            = 1 << 20
	jwksFetchTimeout       = 10 * time.Second
	// An on-demand fetch (unknown kid, no keys yet) holds the request at
	// most this long.
	onDemandWait = 5 * time.Second
	// Retry schedule while the key set cannot be fetched.
	firstRetry = time.Second
	maxRetry   = 30 * time.Second
)

// keySet is a verified, immutable set of signature verification keys.
type keySet struct {
	keys []verifyKey
}

// verifyKey is one public key with what the key set says about it.
type verifyKey struct {
	kid string
	alg string // "" when the key set does not say
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// candidates returns the keys that may have signed a token with the given
// kid and alg: those with that kid or with none (such a key, like a
// public_key file, may have signed any token), or all keys when the token
// names no kid; and of those, the ones whose declared alg (if any) is alg
// and whose type fits alg.
func (ks *keySet) candidates(kid, alg string) []verifyKey {
	if ks == nil {
		return nil
	}
	var out []verifyKey
	for _, k := range ks.keys {
		if kid != "" && k.kid != "" && k.kid != kid {
			continue
		}
		if k.alg != "" && k.alg != alg {
			continue
		}
		if !keyFitsAlg(k.key, alg) {
			continue
		}
		out = append(out, k)
	}
	return out
}

// keyFitsAlg reports whether a public key can verify a signature alg.
func keyFitsAlg(key any, alg string) bool {
	switch key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// parseJWKS reads a JSON Web Key Set, keeping only public signature keys
// (RSA, EC, OKP/Ed25519). Symmetric keys, private keys, encryption keys and
// keys that do not parse are skipped, so that one odd key does not take the
// whole set down; a set with no usable key is an error.
func parseJWKS(b []byte) (*keySet, int, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, 0, fmt.Errorf("not a JSON Web Key Set: %v", err)
	}
	ks := &keySet{}
	skipped := 0
	for _, rk := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(rk); err != nil {
			skipped++
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			skipped++
			continue
		}
		var pub any
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			pub = key
		case *ecdsa.PublicKey:
			pub = key
		case ed25519.PublicKey:
			pub = key
		default:
			// []byte (oct), private keys, anything else: never a
			// verification key here.
			skipped++
			continue
		}
		ks.keys = append(ks.keys, verifyKey{kid: k.KeyID, alg: k.Algorithm, key: pub})
	}
	if len(ks.keys) == 0 {
		return nil, skipped, errors.New("the key set holds no public signature key")
	}
	return ks, skipped, nil
}

// readPublicKeyPEM reads a PEM file holding a public key (PKIX "PUBLIC
// KEY", PKCS#1 "RSA PUBLIC KEY") or a certificate.
func readPublicKeyPEM(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key or certificate", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", key)
}

// keySource gives the current key set.
type keySource interface {
	// current returns the key set, nil before a first one has arrived.
	current() *keySet
	// refetch asks for a fresh key set after a token named an unknown key
	// (or arrived before any key set). It waits for the fetch at most
	// until ctx is done, and reports whether a fetch happened (or was
	// already under way); it returns false at once when the rate limit
	// forbids another fetch.
	refetch(ctx context.Context) bool
}

// staticKeys is a key set read from a file when the config was loaded.
type staticKeys struct{ ks *keySet }

func (s staticKeys) current() *keySet               { return s.ks }
func (s staticKeys) refetch(_ context.Context) bool { return false }

// jwksPool shares key set fetchers across config reloads, keyed by the
// JWKS URL, so that a reload keeps the last good key set instead of
// starting empty. It is the module's one piece of package-level state, as
// with Caddy's own UsagePools (reverse proxy hosts, TLS certificates): it
// holds no configuration, only fetched public keys.
var jwksPool = caddy.NewUsagePool()

// fetcherSettings are the tunables of a fetcher; the newest config's win.
type fetcherSettings struct {
	refetchInterval time.Duration
	minRefresh      time.Duration
	maxRefresh      time.Duration
}

// jwksFetcher keeps the key set of one JWKS URL fresh in the background.
type jwksFetcher struct {
	url    string
	client *http.Client
	now    func() time.Time

	keys     atomic.Pointer[keySet]
	settings atomic.Pointer[fetcherSettings]
	logger   atomic.Pointer[zap.Logger]
	// metrics of the newest config using the fetcher (refresh counts).
	metrics atomic.Pointer[metrics]

	mu           sync.Mutex
	inflight     chan struct{} // closed when the running fetch ends
	lastOnDemand time.Time
	next         time.Time // when the background loop fetches next
	failures     int
	fetches      int64 // completed fetch attempts, for tests

	// ctx ends when the fetcher is destroyed, aborting a fetch under way,
	// so that unloading a config never waits for a slow key server.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newJWKSFetcher(url string, s fetcherSettings, logger *zap.Logger) *jwksFetcher {
	f := &jwksFetcher{
		url:    url,
		client: &http.Client{Timeout: jwksFetchTimeout},
		now:    time.Now,
		ctx:    context.Background(),
		done:   make(chan struct{}),
	}
	f.settings.Store(&s)
	f.logger.Store(logger)
	return f
}

// start runs the background loop; it returns at once. The first fetch
// begins immediately, but nothing waits for it: provisioning (and so
// `caddy validate` and a reload during an outage of the authorization
// server) never depends on the network.
func (f *jwksFetcher) start() {
	f.ctx, f.cancel = context.WithCancel(context.Background())
	go f.loop(f.ctx)
}

// Destruct stops the background loop; the pool calls it when the last
// config using this URL is unloaded.
func (f *jwksFetcher) Destruct() error {
	if f.cancel != nil {
		f.cancel()
		<-f.done
	}
	return nil
}

func (f *jwksFetcher) loop(ctx context.Context) {
	defer close(f.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		f.mu.Lock()
		due := !f.now().Before(f.next)
		f.mu.Unlock()
		if due {
			f.fetchShared(ctx)
		}
		f.mu.Lock()
		wait := f.next.Sub(f.now())
		f.mu.Unlock()
		if wait < 10*time.Millisecond {
			wait = 10 * time.Millisecond
		}
		timer.Reset(wait)
	}
}

func (f *jwksFetcher) current() *keySet { return f.keys.Load() }

func (f *jwksFetcher) refetch(ctx context.Context) bool {
	f.mu.Lock()
	if ch := f.inflight; ch != nil {
		f.mu.Unlock()
		return waitFor(ctx, ch)
	}
	now := f.now()
	if !f.lastOnDemand.IsZero() && now.Sub(f.lastOnDemand) < f.settings.Load().refetchInterval {
		f.mu.Unlock()
		return false
	}
	f.lastOnDemand = now
	ch := f.beginLocked()
	f.mu.Unlock()
	go f.run(ch)
	return waitFor(ctx, ch)
}

func waitFor(ctx context.Context, ch chan struct{}) bool {
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return true
}

// fetchShared fetches unless a fetch is under way, and waits for it.
func (f *jwksFetcher) fetchShared(ctx context.Context) {
	f.mu.Lock()
	ch := f.inflight
	if ch == nil {
		ch = f.beginLocked()
		f.mu.Unlock()
		f.run(ch)
		return
	}
	f.mu.Unlock()
	waitFor(ctx, ch)
}

func (f *jwksFetcher) beginLocked() chan struct{} {
	ch := make(chan struct{})
	f.inflight = ch
	return ch
}

// run performs one fetch and schedules the next.
func (f *jwksFetcher) run(ch chan struct{}) {
	ctx, cancel := context.WithTimeout(f.ctx, jwksFetchTimeout)
	ks, lifetime, err := f.fetch(ctx)
	cancel()
	if f.ctx.Err() != nil {
		// Destroyed while fetching: nobody needs the answer.
		f.mu.Lock()
		f.inflight = nil
		f.mu.Unlock()
		close(ch)
		return
	}
	s := f.settings.Load()
	log := f.logger.Load()

	f.mu.Lock()
	f.fetches++
	now := f.now()
	if err != nil {
		f.failures++
		backoff := firstRetry << min(f.failures-1, 10)
		if backoff > maxRetry {
			backoff = maxRetry
		}
		f.next = now.Add(backoff)
	} else {
		f.failures = 0
		f.keys.Store(ks)
		f.next = now.Add(clampDuration(lifetime, s.minRefresh, s.maxRefresh))
	}
	failures := f.failures
	next := f.next
	f.inflight = nil
	f.mu.Unlock()
	close(ch)

	f.metrics.Load().jwksRefresh(err == nil)
	switch {
	case err != nil && f.keys.Load() == nil:
		log.Warn("JWKS fetch failed and no key set is available yet: access tokens are answered 503 until one arrives",
			zap.String("jwks_url", f.url), zap.Error(err), zap.Int("failures", failures), zap.Time("retry_at", next))
	case err != nil:
		log.Warn("JWKS fetch failed; the last good key set keeps serving",
			zap.String("jwks_url", f.url), zap.Error(err), zap.Int("failures", failures), zap.Time("retry_at", next))
	default:
		log.Debug("JWKS fetched", zap.String("jwks_url", f.url), zap.Int("keys", len(ks.keys)), zap.Time("next_refresh", next))
	}
}

// fetch downloads and parses the key set; lifetime is what the cache
// headers allow (0 when they say nothing).
func (f *jwksFetcher) fetch(ctx context.Context) (*keySet, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, 0, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > maxJWKSBody {
		return nil, 0, fmt.Errorf("key set larger than %d bytes", maxJWKSBody)
	}
	ks, _, err := parseJWKS(body)
	if err != nil {
		return nil, 0, err
	}
	return ks, cacheLifetime(resp.Header, f.now()), nil
}

// cacheLifetime reads how long a response may be reused: Cache-Control
// max-age (no-store and no-cache mean 0), else Expires; -1 when the
// headers say nothing.
func cacheLifetime(h http.Header, now time.Time) time.Duration {
	if cc := h.Get("Cache-Control"); cc != "" {
		for _, d := range strings.Split(cc, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return 0
			case strings.HasPrefix(d, "max-age="):
				n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64)
				if err == nil && n >= 0 {
					if n > int64(defaultMaxRefresh/time.Second)*10 {
						n = int64(defaultMaxRefresh/time.Second) * 10
					}
					return time.Duration(n) * time.Second
				}
			}
		}
	}
	if e := h.Get("Expires"); e != "" {
		if t, err := http.ParseTime(e); err == nil {
			if d := t.Sub(now); d > 0 {
				return d
			}
			return 0
		}
	}
	return -1
}

// clampDuration bounds a cache lifetime; -1 (no cache headers) is the
// default refresh.
func clampDuration(d, lo, hi time.Duration) time.Duration {
	if d < 0 {
		d = defaultNoCacheRefresh
	}
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}

// readFileLimited reads a file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

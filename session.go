package mcpauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/certmagic"
)

// Session binding, stateless: the Mcp-Session-Id a backend issues is
// handed to the client as
//
//	base64url(HMAC-SHA256(key, principal ‖ 0x00 ‖ sid)) "." sid
//
// and unwrapped on every request after its MAC is checked against the
// caller's principal. Another principal presenting it, or a forged or
// tampered id, gets 404, on which MCP clients start a new session under
// their own principal. Nothing is remembered per session, so binding
// survives reloads and restarts and works across instances sharing the key.

const macLen = 43 // base64url of 32 bytes, unpadded

// sessionKeys yields the binding keys: from a configured key, or one
// created lazily (on the first request that needs it, never during
// `caddy validate`) under the storage lock in Caddy's storage, shared by
// every instance that shares the storage. The key binds session ids; task
// ids, request states and cursors use keys derived from it, each with its
// own label, whether session binding is on or off.
type sessionKeys struct {
	mu      sync.Mutex
	key     []byte
	storage certmagic.Storage
	scope   string                      // binding_scope: mixed into every key
	loaded  atomic.Pointer[bindingKeys] // set once the key is known: no lock after that
}

// bindingKeys are the keys of every id the module binds to its caller.
type bindingKeys struct {
	session []byte      // session ids: the key itself
	task    []byte      // task ids: HMAC key
	state   []byte      // request states: HMAC key
	cursor  cipher.AEAD // cursors: AES-256-GCM
	hidden  cipher.AEAD // hidden names: AES-256-GCM
}

func deriveKeys(key []byte) (*bindingKeys, error) {
	derive := func(label string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte("mcp_auth " + label))
		return h.Sum(nil)
	}
	gcm := func(label string) (cipher.AEAD, error) {
		block, err := aes.NewCipher(derive(label))
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(block)
	}
	cursor, err := gcm("cursor key")
	if err != nil {
		return nil, err
	}
	hidden, err := gcm("hidden name key")
	if err != nil {
		return nil, err
	}
	return &bindingKeys{session: key, task: derive("task id key"), state: derive("request state key"), cursor: cursor, hidden: hidden}, nil
}

const sessionKeyStorageKey = "mcp_auth/session_key"

// scopedKey is the key of one binding domain: the session key itself
// without a scope (so ids bound before binding_scope existed still open),
// else a key derived from it and the scope.
func scopedKey(key []byte, scope string) []byte {
	if scope == "" {
		return key
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte("mcp_auth binding scope\x00" + scope))
	return h.Sum(nil)
}

func (s *sessionKeys) get(ctx context.Context) (*bindingKeys, error) {
	if k := s.loaded.Load(); k != nil {
		return k, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.loaded.Load(); k != nil {
		return k, nil
	}
	key, err := s.loadKey(ctx)
	if err != nil {
		return nil, err
	}
	k, err := deriveKeys(scopedKey(key, s.scope))
	if err != nil {
		return nil, err
	}
	s.loaded.Store(k)
	return k, nil
}

func (s *sessionKeys) loadKey(ctx context.Context) ([]byte, error) {
	if s.key != nil {
		return s.key, nil
	}
	if s.storage == nil {
		return nil, errors.New("no session key and no storage")
	}
	if err := s.storage.Lock(ctx, sessionKeyStorageKey); err != nil {
		return nil, fmt.Errorf("locking session key: %v", err)
	}
	defer func() { _ = s.storage.Unlock(context.WithoutCancel(ctx), sessionKeyStorageKey) }()
	raw, err := s.storage.Load(ctx, sessionKeyStorageKey)
	switch {
	case err == nil && len(raw) >= 32:
		s.key = raw
		return s.key, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("loading session key: %v", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := s.storage.Store(ctx, sessionKeyStorageKey, key); err != nil {
		return nil, fmt.Errorf("storing session key: %v", err)
	}
	s.key = key
	return s.key, nil
}

// admitSession loads the binding keys and, with session binding on,
// unwraps the session id the client holds, after checking that it was
// issued to this principal.
func (m *MCPAuth) admitSession(r *http.Request, ex *exchange) *refusal {
	keys, err := m.sessions.get(r.Context())
	if err != nil {
		return &refusal{status: http.StatusInternalServerError, err: err}
	}
	ex.keys = keys
	if m.DisableSessionBinding {
		return nil
	}
	switch ids := r.Header.Values("Mcp-Session-Id"); len(ids) {
	case 0:
	case 1:
		sid, ok := unwrapSessionID(keys.session, ex.p.id, ids[0])
		if !ok {
			return plainRefusal(http.StatusNotFound, reasonSession, "no such session for this caller; start a new session with initialize")
		}
		r.Header.Set("Mcp-Session-Id", sid)
	default:
		rf := plainRefusal(http.StatusBadRequest, reasonSessionRepeated, "Mcp-Session-Id may appear once")
		rf.errCode = reasonInvalidRequest
		return rf
	}
	return nil
}

func sessionMAC(key []byte, principalID, sid string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(principalID))
	h.Write([]byte{0})
	h.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// wrapSessionID binds a backend session id to a principal.
func wrapSessionID(key []byte, principalID, sid string) string {
	return sessionMAC(key, principalID, sid) + "." + sid
}

// unwrapSessionID returns the backend session id when wrapped was issued to
// this principal.
func unwrapSessionID(key []byte, principalID, wrapped string) (string, bool) {
	mac, sid, ok := strings.Cut(wrapped, ".")
	if !ok || len(mac) != macLen || sid == "" {
		return "", false
	}
	want := sessionMAC(key, principalID, sid)
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return "", false
	}
	return sid, true
}

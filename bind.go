package mcpauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/caddy-mcp-auth/caddy-mcp-auth/wire"
)

// Bound ids. Behind a gateway the backend never sees the caller's
// credential, so it cannot tell one caller's handles from another's. Every
// handle a backend gives out that leads to one caller's data is bound to
// that caller before it reaches the client, statelessly, like session ids:
//
//   - task ids:        "mcpt." base64url(HMAC(taskKey, principal ‖ 0x01 ‖ id)) "." id
//   - request states:  "mcps." base64url(HMAC(stateKey, principal ‖ 0x02 ‖ state)) "." state
//   - list cursors:    "mcpc." base64url(nonce ‖ AES-256-GCM(cursor; AD principal ‖ 0x00 ‖ list))
//
// The keys are derived from the session key, each with its own label, so
// bound ids survive reloads and restarts and work across instances that
// share the key. An id the client sends is unwrapped after its MAC (or
// AEAD tag) is checked against the caller's principal; a foreign, forged,
// truncated or unbound task id or cursor reaches the backend as a fresh
// 128-bit random value, never derived from what was sent, so the client
// gets the backend's own answer for an unknown task or cursor; such a
// request state is refused (bindRequest). The keys are those of the
// handler's binding_scope (scopedKey).

const (
	prefixTask   = "mcpt."
	prefixState  = "mcps."
	prefixCursor = "mcpc."
)

func bindMAC(key []byte, principalID string, kind byte, id string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(principalID))
	h.Write([]byte{kind})
	h.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// bindID wraps a backend id for a principal.
func bindID(prefix string, key []byte, kind byte, principalID, id string) string {
	return prefix + bindMAC(key, principalID, kind, id) + "." + id
}

// unbindID returns the backend id of a wrapped id issued to this
// principal.
func unbindID(prefix string, key []byte, kind byte, principalID, wrapped string) (string, bool) {
	rest, ok := strings.CutPrefix(wrapped, prefix)
	if !ok {
		return "", false
	}
	mac, id, ok := strings.Cut(rest, ".")
	if !ok || len(mac) != macLen || id == "" {
		return "", false
	}
	if !hmac.Equal([]byte(mac), []byte(bindMAC(key, principalID, kind, id))) {
		return "", false
	}
	return id, true
}

// randomID is a fresh 128-bit random value (32 hex digits): what the
// backend gets instead of an id that does not open.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (k *bindingKeys) wrapTask(principalID, id string) string {
	return bindID(prefixTask, k.task, 1, principalID, id)
}

func (k *bindingKeys) unwrapTask(principalID, wrapped string) (string, bool) {
	return unbindID(prefixTask, k.task, 1, principalID, wrapped)
}

func (k *bindingKeys) wrapState(principalID, st string) string {
	return bindID(prefixState, k.state, 2, principalID, st)
}

func (k *bindingKeys) unwrapState(principalID, wrapped string) (string, bool) {
	return unbindID(prefixState, k.state, 2, principalID, wrapped)
}

// sealHidden is the token that stands for a hidden name on its way to the
// backend: unpredictable (a fresh nonce each time), unrelated to any real
// name, and opened only by the module, for this principal. See
// wire.HiddenMarker.
func (k *bindingKeys) sealHidden(principalID, name string) string {
	nonce := make([]byte, k.hidden.NonceSize(), k.hidden.NonceSize()+len(name)+k.hidden.Overhead())
	_, _ = rand.Read(nonce)
	sealed := k.hidden.Seal(nonce, nonce, []byte(name), []byte(principalID))
	return wire.HiddenMarker + base64.RawURLEncoding.EncodeToString(sealed)
}

func (k *bindingKeys) openHidden(principalID, token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, wire.HiddenMarker)
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	n := k.hidden.NonceSize()
	if err != nil || len(raw) < n+k.hidden.Overhead() {
		return "", false
	}
	plain, err := k.hidden.Open(nil, raw[:n], raw[n:], []byte(principalID))
	if err != nil {
		return "", false
	}
	return string(plain), true
}

func cursorAD(principalID, list string) []byte {
	return []byte(principalID + "\x00" + list)
}

// cursorPad: a sealed cursor's plaintext is padded to a multiple of this,
// so that its length tells the client only roughly how long the backend's
// cursor is (the Go SDK's names the last item of the page).
const cursorPad = 48

// sealCursor encrypts a backend cursor for a principal and list method:
// a length, the cursor, zero padding.
func (k *bindingKeys) sealCursor(principalID, list, cursor string) string {
	plain := binary.AppendUvarint(nil, uint64(len(cursor)))
	plain = append(plain, cursor...)
	plain = append(plain, make([]byte, (cursorPad-len(plain)%cursorPad)%cursorPad)...)
	nonce := make([]byte, k.cursor.NonceSize(), k.cursor.NonceSize()+len(plain)+k.cursor.Overhead())
	_, _ = rand.Read(nonce)
	sealed := k.cursor.Seal(nonce, nonce, plain, cursorAD(principalID, list))
	return prefixCursor + base64.RawURLEncoding.EncodeToString(sealed)
}

// openCursor decrypts a cursor sealed for this principal and list method.
func (k *bindingKeys) openCursor(principalID, list, sealed string) (string, bool) {
	rest, ok := strings.CutPrefix(sealed, prefixCursor)
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(raw) < k.cursor.NonceSize()+k.cursor.Overhead() {
		return "", false
	}
	n := k.cursor.NonceSize()
	plain, err := k.cursor.Open(nil, raw[:n], raw[n:], cursorAD(principalID, list))
	if err != nil {
		return "", false
	}
	size, w := binary.Uvarint(plain)
	if w <= 0 || size > uint64(len(plain)-w) {
		return "", false
	}
	return string(plain[w : w+int(size)]), true
}

// cursorList names the list a cursor belongs to, by the request method
// (the same name the reply side derives from the list's shape).
func cursorList(method string) (string, bool) {
	switch method {
	case "resources/directory/read":
		return "resources/list", true
	case "tasks/list":
		return method, true
	}
	if _, ok := wire.ListUse(method); ok {
		return method, true
	}
	return "", false
}

// Task ownership, for tasks/list alone: a backend without sessions lists
// every caller's tasks, and a listed id carries no owner. The module
// remembers, for the task ids it hands out, the principal it handed each
// to: a bounded table (least recently used out), shared by the configs of
// one process. A listed task the table does not know (created through
// another instance or before a restart) is not shown; its id, held by its
// owner, keeps working.
type taskOwners struct {
	mu  sync.Mutex
	lru *simplelru.LRU[[16]byte, [16]byte]
}

const taskOwnerEntries = 1 << 16

func (o *taskOwners) Destruct() error { return nil }

var ownersPool = caddy.NewUsagePool()

func sharedTaskOwners() (*taskOwners, error) {
	v, _, err := ownersPool.LoadOrNew("task owners", func() (caddy.Destructor, error) {
		l, _ := simplelru.NewLRU[[16]byte, [16]byte](taskOwnerEntries, nil)
		return &taskOwners{lru: l}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*taskOwners), nil
}

func ownerKey(s string) [16]byte {
	d := sha256.Sum256([]byte(s))
	return [16]byte(d[:16])
}

func (o *taskOwners) record(taskID, principalID string) {
	o.mu.Lock()
	o.lru.Add(ownerKey(taskID), ownerKey(principalID))
	o.mu.Unlock()
}

func (o *taskOwners) owns(taskID, principalID string) bool {
	o.mu.Lock()
	owner, ok := o.lru.Get(ownerKey(taskID))
	o.mu.Unlock()
	return ok && owner == ownerKey(principalID)
}

// The reply writer binds what the backend hands out (wire.Binder).

func (rw *responseWriter) Cursor(list, cursor string) (string, bool) {
	return rw.keys.sealCursor(rw.principal, list, cursor), true
}

func (rw *responseWriter) Task(id string) (string, bool) {
	rw.m.owners.record(id, rw.principal)
	return rw.keys.wrapTask(rw.principal, id), true
}

func (rw *responseWriter) KeepTask(id string) bool { return rw.m.owners.owns(id, rw.principal) }

func (rw *responseWriter) State(st string) (string, bool) {
	return rw.keys.wrapState(rw.principal, st), true
}

func (rw *responseWriter) Unhide(token string) (string, bool) {
	return rw.keys.openHidden(rw.principal, token)
}

// bindRequest unwraps the bound ids a body holds, as edits of the body:
// the taskId of a task method, the related-task entry, the task ids of a
// subscriptions/listen, a list cursor, a request state. A task id or
// cursor that does not open becomes a fresh random value, so the backend
// answers as for any unknown one. A request state that does not open is
// refused with -32602: it is the integrity check the protocol asks of a
// server (a state is opaque, never looked up, so there is no "unknown"
// answer to leave to the backend, and one that does not check would run
// the retry on a random state). Task ids the client minted (for a task it
// runs for the server) stand in its responses and its task status
// notifications unwrapped, and are left alone.
func (m *MCPAuth) bindRequest(ex *exchange) *refusal {
	k, pid := ex.keys, ex.p.id
	task := func(f wire.Field) string {
		id, ok := k.unwrapTask(pid, f.Value)
		if !ok {
			id = randomID()
		}
		ex.edits = append(ex.edits, wire.ReplaceString(f.At, id))
		return id
	}
	for i := range ex.body.Msgs {
		msg := &ex.body.Msgs[i]
		if msg.TaskID.Present() {
			// Under 2026-07-28 Mcp-Name carries the task id: it follows.
			ex.mcpName = task(msg.TaskID)
		}
		for _, f := range msg.ListenTasks {
			task(f)
		}
		if f := msg.RelatedTask; f.Present() {
			clientMinted := !strings.HasPrefix(f.Value, prefixTask) &&
				(msg.Kind == wire.KindResponse || msg.Action.Method == "notifications/tasks/status")
			if !clientMinted {
				id, ok := k.unwrapTask(pid, f.Value)
				if !ok {
					id = randomID()
				}
				ex.edits = append(ex.edits, wire.ReplaceString(f.At, id))
			}
		}
		if f := msg.Cursor; f.Present() {
			if list, ok := cursorList(msg.Action.Method); ok {
				c, ok := k.openCursor(pid, list, f.Value)
				if !ok {
					c = base64.RawURLEncoding.EncodeToString([]byte(randomID()))
				}
				ex.edits = append(ex.edits, wire.ReplaceString(f.At, c))
			}
		}
		if f := msg.RequestState; f.Present() {
			st, ok := k.unwrapState(pid, f.Value)
			if !ok {
				id := msg.ID
				if ex.body.Batch {
					id = nil // the batch is refused whole: one error, for no single request
				}
				return rpcRefusal(http.StatusBadRequest, reasonRequestState, wire.CodeInvalidParams, id,
					"invalid requestState: it was altered, or not issued to this caller")
			}
			ex.edits = append(ex.edits, wire.ReplaceString(f.At, st))
		}
	}
	return nil
}

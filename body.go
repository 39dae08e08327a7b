package mcpauth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
)

// A POST body is read once, into a pooled buffer, judged, and handed to
// the backend from that buffer. Go's HTTP transport may still read a
// request body after RoundTrip returns, so the buffer goes back to the pool
// only from the body's Close (which is safe to call concurrently with
// Read), never right after the next handler returns; a body that is never
// closed is left to the garbage collector.

// maxPooledBody: larger buffers are not kept, so the pool does not pin
// memory after a burst of big bodies.
const maxPooledBody = 256 << 10

var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// errTooLarge is returned by readBody for a body over the limit.
var errTooLarge = errors.New("body too large")

// pooledBody is a request body served from a pooled buffer.
type pooledBody struct {
	mu     sync.Mutex
	buf    *[]byte // nil once closed
	r      bytes.Reader
	noPool bool // a buffer of its own, not from the pool
	acct   account
}

// errBudget is returned when the memory budget cannot hold the body.
var errBudget = errors.New("memory budget exhausted")

// readBody reads at most limit bytes (a longer body is errTooLarge) into a
// pooled buffer whose capacity is charged to acct, and which gives the
// charge back at Close. The declared length is not trusted: the buffer
// grows, doubling from 4 KiB but never past limit+1, as bytes arrive, so
// a hostile body costs at most about twice the limit, and a declared body
// that never comes costs 4 KiB.
func readBody(body io.Reader, limit int64, acct account) (*pooledBody, error) {
	bp := bodyPool.Get().(*[]byte)
	b := (*bp)[:0]
	if !acct.charge(b) {
		// A pooled buffer too big for what is left: start small instead.
		release(bp)
		bp, b = new([]byte), nil
	}
	fail := func(err error) (*pooledBody, error) {
		*bp = b
		release(bp)
		acct.release()
		return nil, err
	}
	if body != nil && body != http.NoBody {
		for {
			if len(b) == cap(b) {
				nb, ok := acct.grow(b, 1, int(limit)+1)
				if !ok {
					return fail(errBudget)
				}
				b = nb
			}
			n, err := body.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if int64(len(b)) > limit {
				err = errTooLarge
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fail(err)
			}
		}
	}
	*bp = b
	pb := &pooledBody{buf: bp, acct: acct}
	pb.r.Reset(b)
	return pb, nil
}

// bytes returns the body; valid until Close.
func (b *pooledBody) bytes() []byte { return *b.buf }

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, io.EOF
	}
	return b.r.Read(p)
}

// Close returns the buffer to the pool, once.
func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		if !b.noPool {
			release(b.buf)
		}
		b.acct.release()
		b.buf = nil
		b.r.Reset(nil)
	}
	return nil
}

func release(bp *[]byte) {
	if cap(*bp) <= maxPooledBody {
		*bp = (*bp)[:0]
		bodyPool.Put(bp)
	}
}

// newPooledBody serves b (not pooled: a rewritten body), whose charge
// acct holds and gives back at Close.
func newPooledBody(b []byte, acct account) *pooledBody {
	pb := &pooledBody{buf: &b, noPool: true, acct: acct}
	pb.r.Reset(b)
	return pb
}

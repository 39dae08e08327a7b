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
}

// readBody reads at most limit bytes (a longer body is errTooLarge) into a
// pooled buffer. length is the declared Content-Length, or -1. Without a
// declared length the buffer doubles from 4 KiB but never past limit+1,
// so a hostile body costs at most about twice the limit in allocations.
func readBody(body io.Reader, length, limit int64) (*pooledBody, error) {
	bp := bodyPool.Get().(*[]byte)
	b := (*bp)[:0]
	if length > 0 && length <= limit && int64(cap(b)) < length+1 {
		b = make([]byte, 0, length+1)
	}
	if body != nil && body != http.NoBody {
		for {
			if len(b) == cap(b) {
				c := int64(2 * cap(b))
				if c < 4096 {
					c = 4096
				}
				if c > limit+1 {
					c = limit + 1
				}
				nb := make([]byte, len(b), c)
				copy(nb, b)
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
				*bp = b
				release(bp)
				return nil, err
			}
		}
	}
	*bp = b
	pb := &pooledBody{buf: bp}
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

// newPooledBody serves b (not pooled: a rewritten body).
func newPooledBody(b []byte) *pooledBody {
	pb := &pooledBody{buf: &b, noPool: true}
	pb.r.Reset(b)
	return pb
}

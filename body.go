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

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errTooLarge is returned by readBody for a body over the limit.
var errTooLarge = errors.New("body too large")

// pooledBody is a request body served from a pooled buffer.
type pooledBody struct {
	mu  sync.Mutex
	buf *bytes.Buffer // nil once closed
	r   bytes.Reader
}

// readBody reads at most limit bytes (a longer body is errTooLarge) into a
// pooled buffer. length is the declared Content-Length, or -1.
func readBody(body io.Reader, length, limit int64) (*pooledBody, error) {
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if body != nil && body != http.NoBody {
		if length > 0 && length <= limit {
			buf.Grow(int(length) + 1)
		}
		n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
		if err == nil && n > limit {
			err = errTooLarge
		}
		if err != nil {
			release(buf)
			return nil, err
		}
	}
	pb := &pooledBody{buf: buf}
	pb.r.Reset(buf.Bytes())
	return pb, nil
}

// bytes returns the body; valid until Close.
func (b *pooledBody) bytes() []byte { return b.buf.Bytes() }

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
		release(b.buf)
		b.buf = nil
		b.r.Reset(nil)
	}
	return nil
}

func release(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		bodyPool.Put(buf)
	}
}

package mcpauth

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// maxFilteredResponse bounds what is buffered of a reply that must be
// filtered: a JSON list reply, or one SSE event. A larger one is refused,
// never passed on unfiltered.
const maxFilteredResponse = 16 << 20

// responseWriter sits between reverse_proxy and the client. It wraps the
// backend's session id, and filters list replies: a JSON reply to a list
// request is buffered, filtered and written at the end; an SSE stream is
// passed on event by event, each flushed as it arrives, with list
// responses rewritten.
type responseWriter struct {
	*caddyhttp.ResponseWriterWrapper
	roles []*compiledRole
	// bufferJSON is set when the request held a list request, so that a
	// JSON reply must be read whole to be filtered.
	bufferJSON bool
	// wrapSession rewrites the Mcp-Session-Id that the backend sets.
	wrapSession func(string) string
	// onReply, when set, learns how the backend frames a 200 reply to a
	// POST (so hide_denied can answer in the same framing).
	onReply func(sse bool, cacheControl string)

	mode   int // one of the modes below, decided at WriteHeader
	status int
	buf    bytes.Buffer // mode json: the reply; mode sse: the current event
	failed bool
}

const (
	modeUndecided = iota
	modePass
	modeJSON
	modeSSE
)

func (rw *responseWriter) WriteHeader(status int) {
	if rw.mode != modeUndecided {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// An informational answer (103 Early Hints) comes before the final
		// one: pass it on and decide at the final status.
		rw.ResponseWriterWrapper.WriteHeader(status)
		return
	}
	h := rw.Header()
	if rw.wrapSession != nil {
		if sid := h.Get("Mcp-Session-Id"); sid != "" {
			h.Set("Mcp-Session-Id", rw.wrapSession(sid))
		}
	}
	rw.status = status
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if rw.onReply != nil && status == http.StatusOK && (mt == "text/event-stream" || mt == "application/json") {
		rw.onReply(mt == "text/event-stream", h.Get("Cache-Control"))
	}
	encoded := h.Get("Content-Encoding") != "" && h.Get("Content-Encoding") != "identity"
	switch {
	case status < 200 || status == http.StatusNoContent:
		rw.mode = modePass
	case mt == "text/event-stream":
		rw.mode = modeSSE
	case mt == "application/json" && rw.bufferJSON:
		rw.mode = modeJSON
	default:
		rw.mode = modePass
	}
	if rw.mode != modePass && encoded {
		// A reply we must read but cannot: fail closed.
		rw.mode = modeJSON
		rw.failed = true
		return
	}
	switch rw.mode {
	case modePass:
		rw.ResponseWriterWrapper.WriteHeader(status)
	case modeSSE:
		h.Del("Content-Length")
		rw.ResponseWriterWrapper.WriteHeader(status)
	case modeJSON:
		h.Del("Content-Length") // written at the end
	}
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	if rw.mode == modeUndecided {
		rw.WriteHeader(http.StatusOK)
	}
	switch rw.mode {
	case modeJSON:
		if rw.failed {
			return len(p), nil
		}
		if rw.buf.Len()+len(p) > maxFilteredResponse {
			rw.failed = true
			rw.buf.Reset()
			return len(p), nil
		}
		return rw.buf.Write(p)
	case modeSSE:
		return rw.writeSSE(p)
	}
	return rw.ResponseWriterWrapper.Write(p)
}

// ReadFrom overrides the wrapped ReaderFrom, which would bypass Write.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(writerOnly{rw}, r)
}

type writerOnly struct{ io.Writer }

// Flush passes complete SSE events and pass-through data on at once; a
// partly received SSE event waits for its end.
func (rw *responseWriter) Flush() {
	if rw.mode == modeJSON {
		return
	}
	if rw.mode == modeUndecided {
		rw.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(rw.ResponseWriterWrapper).Flush()
}

// FlushError lets http.ResponseController reach Flush.
func (rw *responseWriter) FlushError() error {
	rw.Flush()
	return nil
}

// writeSSE splits the stream into events (ended by a blank line) and writes
// each whole event, filtered, as soon as it is complete.
func (rw *responseWriter) writeSSE(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if rw.failed {
			return n, io.ErrShortWrite
		}
		// Look for the end of an event: "\n\n", "\r\n\r\n" or "\r\r" (and
		// mixes); normalize by scanning for an empty line.
		end := eventEnd(rw.buf.Bytes(), p)
		if end < 0 {
			if rw.buf.Len()+len(p) > maxFilteredResponse {
				rw.failed = true
				return n, io.ErrShortWrite
			}
			rw.buf.Write(p)
			return n, nil
		}
		rw.buf.Write(p[:end])
		p = p[end:]
		if err := rw.emitEvent(rw.buf.Bytes()); err != nil {
			rw.failed = true
			return n, err
		}
		rw.buf.Reset()
	}
	_ = http.NewResponseController(rw.ResponseWriterWrapper).Flush()
	return n, nil
}

// eventEnd returns how much of p completes the event begun in prev (the
// index just after the blank line), or -1.
func eventEnd(prev, p []byte) int {
	// The last byte before p matters for a blank line split across writes.
	var last1, last2 byte
	if len(prev) > 0 {
		last1 = prev[len(prev)-1]
	}
	if len(prev) > 1 {
		last2 = prev[len(prev)-2]
	}
	for i, c := range p {
		if c == '\n' {
			if last1 == '\n' || (last1 == '\r' && last2 == '\n') {
				return i + 1
			}
		}
		if c == '\r' && last1 == '\r' {
			return i + 1
		}
		last2, last1 = last1, c
	}
	return -1
}

// emitEvent writes one complete SSE event, rewriting its data when it holds
// a list response the caller may see only in part.
func (rw *responseWriter) emitEvent(ev []byte) error {
	if !looksLikeList(ev) {
		_, err := rw.ResponseWriterWrapper.Write(ev)
		return err
	}
	// Collect the data lines; keep the other fields in order.
	var data []byte
	var fields [][]byte
	lines := splitLines(ev)
	nData := 0
	for _, ln := range lines {
		if len(ln) == 0 {
			continue
		}
		if bytes.HasPrefix(ln, []byte("data")) && (len(ln) == 4 || ln[4] == ':') {
			v := ln[4:]
			if len(v) > 0 {
				v = v[1:]
				if len(v) > 0 && v[0] == ' ' {
					v = v[1:]
				}
			}
			if nData > 0 {
				data = append(data, '\n')
			}
			data = append(data, v...)
			nData++
			continue
		}
		fields = append(fields, ln)
	}
	filtered, err := filterMessage(data, rw.roles)
	if err != nil {
		return err
	}
	if len(filtered) == len(data) {
		_, err := rw.ResponseWriterWrapper.Write(ev)
		return err
	}
	var out bytes.Buffer
	for _, f := range fields {
		out.Write(f)
		out.WriteByte('\n')
	}
	for _, ln := range bytes.Split(filtered, []byte{'\n'}) {
		out.WriteString("data: ")
		out.Write(ln)
		out.WriteByte('\n')
	}
	out.WriteByte('\n')
	_, err = rw.ResponseWriterWrapper.Write(out.Bytes())
	return err
}

// splitLines splits on \r\n, \n or \r.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\n':
			out = append(out, b[start:i])
			start = i + 1
		case '\r':
			out = append(out, b[start:i])
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// finish ends the reply once the backend is done: a buffered JSON reply is
// filtered and written; an unfinished SSE event is dropped (a client
// discards it too). It reports whether the reply had to be refused.
func (rw *responseWriter) finish() (refused bool) {
	if rw.mode != modeJSON {
		return rw.failed
	}
	var body []byte
	if !rw.failed {
		var err error
		body, err = filterMessage(rw.buf.Bytes(), rw.roles)
		rw.failed = err != nil
	}
	if rw.failed {
		body = append(rpcErrorBody(nil, codeInternalError,
			"the gateway could not filter the list reply, so it is withheld"), '\n')
		h := rw.Header()
		h.Del("Content-Encoding")
		h.Set("Content-Type", "application/json")
		rw.status = http.StatusBadGateway
	}
	rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	rw.ResponseWriterWrapper.WriteHeader(rw.status)
	_, _ = rw.ResponseWriterWrapper.Write(body)
	return rw.failed
}

const codeInternalError = -32603

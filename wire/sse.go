package wire

import (
	"bytes"
	"io"
)

// Server-Sent Events framing, as the MCP Streamable HTTP transport uses it
// (the HTML Living Standard's event stream format): an event is a run of
// lines ended by a blank line; lines end in "\n", "\r\n" or "\r"; a data
// line is "data" or "data:" with an optional space after the colon, and
// the data of an event is its data lines joined with "\n".

// EventEnd returns how much of p completes the event begun in prev (the
// index just after the blank line), or -1.
func EventEnd(prev, p []byte) int {
	// The last bytes before p matter for a blank line split across writes.
	var last1, last2 byte
	if len(prev) > 0 {
		last1 = prev[len(prev)-1]
	}
	if len(prev) > 1 {
		last2 = prev[len(prev)-2]
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c != '\n' && c != '\r' {
			// Line content: jump to the line's end. What matters there is
			// the two bytes before it.
			j := indexLineEnd(p[i:])
			if j < 0 {
				return -1
			}
			if j >= 2 {
				last2, last1 = p[i+j-2], p[i+j-1]
			} else {
				last2, last1 = last1, c
			}
			i += j
			continue
		}
		if c == '\n' && (last1 == '\n' || (last1 == '\r' && last2 == '\n')) {
			return i + 1
		}
		if c == '\r' && last1 == '\r' {
			return i + 1
		}
		last2, last1 = last1, c
		i++
	}
	return -1
}

// Event is one complete event and where its data is.
type Event struct {
	Raw []byte
	// Data is the event's data: a slice of Raw (at DataAt) when the event
	// has one data line, else the lines joined into a scratch buffer.
	Data   []byte
	DataAt Span
	// Lines is the number of data lines.
	Lines int
}

// ParseEvent finds an event's data. scratch is reused for data of several
// lines and returned.
func ParseEvent(ev, scratch []byte) (Event, []byte) {
	e := Event{Raw: ev}
	for start := 0; start < len(ev); {
		end, next := lineEnd(ev, start)
		ln := ev[start:end]
		if bytes.HasPrefix(ln, []byte("data")) && (len(ln) == 4 || ln[4] == ':') {
			vs := start + 4
			if len(ln) > 4 {
				vs++
				if vs < end && ev[vs] == ' ' {
					vs++
				}
			}
			switch e.Lines {
			case 0:
				e.DataAt = Span{vs, end}
			case 1:
				scratch = append(scratch[:0], ev[e.DataAt.Start:e.DataAt.End]...)
				fallthrough
			default:
				scratch = append(scratch, '\n')
				scratch = append(scratch, ev[vs:end]...)
			}
			e.Lines++
		}
		start = next
	}
	switch e.Lines {
	case 0:
	case 1:
		e.Data = ev[e.DataAt.Start:e.DataAt.End]
	default:
		e.Data = scratch
		e.DataAt = Span{}
	}
	return e, scratch
}

// lineEnd returns the end of the line that starts at i and the start of
// the next one.
func lineEnd(b []byte, i int) (end, next int) {
	j := indexLineEnd(b[i:])
	if j < 0 {
		return len(b), len(b)
	}
	end = i + j
	if b[end] == '\r' && end+1 < len(b) && b[end+1] == '\n' {
		return end, end + 2
	}
	return end, end + 1
}

// WriteEvent writes an event with its data rewritten by edits (edits of
// Data). An event of one data line is written from its own bytes; one of
// several lines is written anew: its other lines in order, then the
// rewritten data, a line each.
func WriteEvent(w io.Writer, e Event, edits Edits) error {
	if len(edits) == 0 {
		_, err := w.Write(e.Raw)
		return err
	}
	if e.Lines == 1 {
		edits.Shift(e.DataAt.Start)
		err := edits.WriteTo(w, e.Raw)
		edits.Shift(-e.DataAt.Start)
		return err
	}
	var out bytes.Buffer
	for start := 0; start < len(e.Raw); {
		end, next := lineEnd(e.Raw, start)
		ln := e.Raw[start:end]
		if len(ln) > 0 && !(bytes.HasPrefix(ln, []byte("data")) && (len(ln) == 4 || ln[4] == ':')) {
			out.Write(ln)
			out.WriteByte('\n')
		}
		start = next
	}
	data := edits.Apply(nil, e.Data)
	for _, ln := range bytes.Split(data, []byte{'\n'}) {
		out.WriteString("data: ")
		out.Write(ln)
		out.WriteByte('\n')
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}

// indexLineEnd is bytes.IndexAny(b, "\r\n"), in two vectorized scans.
func indexLineEnd(b []byte) int {
	n := bytes.IndexByte(b, '\n')
	upto := b
	if n >= 0 {
		upto = b[:n]
	}
	if r := bytes.IndexByte(upto, '\r'); r >= 0 {
		return r
	}
	return n
}

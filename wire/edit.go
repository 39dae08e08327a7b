package wire

import (
	"io"
	"slices"
)

// Edit replaces b[Start:End] of a message with Repl (a deletion when Repl
// is empty, an insertion when the span is empty). Rewriting a message is
// a list of edits over its bytes, so that a reply or a request is copied
// at most once, while it is written.
type Edit struct {
	Span
	Repl []byte
}

// Edits are the edits of one message.
type Edits []Edit

// Settle sorts the edits by position and drops any that overlaps an
// earlier one.
func (e Edits) Settle() Edits { return e.settle() }

// settle sorts the edits by position and drops any that overlaps an
// earlier one (a substitution inside a list item that is deleted).
func (e Edits) settle() Edits {
	if len(e) < 2 {
		return e
	}
	// By position; at one position the widest edit first, so that an
	// edit inside a deleted span is the one dropped.
	slices.SortStableFunc(e, func(a, b Edit) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	out := e[:1]
	for _, x := range e[1:] {
		if x.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, x)
	}
	return out
}

// Size is the length of src once the edits are applied.
func (e Edits) Size(src []byte) int {
	n := len(src)
	for _, x := range e {
		n += len(x.Repl) - x.Len()
	}
	return n
}

// Apply appends src with the edits applied to dst.
func (e Edits) Apply(dst, src []byte) []byte {
	at := 0
	for _, x := range e {
		dst = append(dst, src[at:x.Start]...)
		dst = append(dst, x.Repl...)
		at = x.End
	}
	return append(dst, src[at:]...)
}

// WriteTo writes src with the edits applied, piece by piece, without a
// copy of its own.
func (e Edits) WriteTo(w io.Writer, src []byte) error {
	at := 0
	for _, x := range e {
		if x.Start > at {
			if _, err := w.Write(src[at:x.Start]); err != nil {
				return err
			}
		}
		if len(x.Repl) > 0 {
			if _, err := w.Write(x.Repl); err != nil {
				return err
			}
		}
		at = x.End
	}
	if at < len(src) {
		_, err := w.Write(src[at:])
		return err
	}
	return nil
}

// Shift moves every edit by off bytes (for a message that stands at off
// within a larger buffer).
func (e Edits) Shift(off int) {
	for i := range e {
		e[i].Start += off
		e[i].End += off
	}
}

// ReplaceString is the edit that replaces the JSON string at at by s.
func ReplaceString(at Span, s string) Edit {
	return Edit{Span: at, Repl: AppendQuote(nil, s)}
}

package wire

import (
	"bytes"
	"strconv"
	"strings"
	"time"
)

// AppendEvent appends one complete event in the text/event-stream format to
// dst and returns the extended buffer. It allocates only when dst lacks the
// capacity for the event.
//
// It writes an "id: " line when id is not empty, an "event: " line when name
// is not empty, one "data: " line for every line of data, and the blank line
// that makes a client dispatch the event. data is split on CRLF, CR and LF,
// and every line it yields starts with "data: ", so no payload can end the
// event early, start another event or set another field. A client therefore
// receives data with each CRLF and CR turned into LF.
//
// An empty data writes a single "data: " line, which a client dispatches as
// an event with empty data (a blank line alone would dispatch nothing). A
// data that ends with a line break writes a final empty "data: " line, so
// the client sees that line break too.
//
// id and name are written verbatim: the caller must have checked them with
// ValidField, because a CR, LF or NUL in either would corrupt the stream. An
// empty id writes no "id" line, so the client keeps the last event ID it had.
func AppendEvent(dst []byte, id, name string, data []byte) []byte {
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	dst = appendLines(dst, "data: ", data, bytes.IndexByte)
	return append(dst, '\n')
}

// EncodeEvent returns what AppendEvent(nil, id, name, data) returns, and
// data as it sits in that encoding. When data is one line (compact JSON
// always is), the encoding is allocated at its exact size and the returned
// data is a slice of it, capped at its end, so a holder of both keeps one
// copy of the payload; otherwise the returned data is data itself.
func EncodeEvent(id, name string, data []byte) (enc, dataInEnc []byte) {
	if bytes.IndexByte(data, '\n') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return AppendEvent(nil, id, name, data), data
	}
	n := len("data: ") + len(data) + 2
	if id != "" {
		n += len("id: ") + len(id) + 1
	}
	if name != "" {
		n += len("event: ") + len(name) + 1
	}
	enc = AppendEvent(make([]byte, 0, n), id, name, data)
	end := len(enc) - 2 // before the data line's LF and the blank line
	start := end - len(data)
	return enc, enc[start:end:end]
}

// AppendComment appends text as comment lines to dst and returns the extended
// buffer. text is split on CRLF, CR and LF, and each line is written as
// ": <line>\n", so a comment can never set a field or dispatch an event. An
// empty text writes the single line ": \n", which is enough for a heartbeat.
//
// Comments may go between events or between the lines of one event; no blank
// line follows them.
func AppendComment(dst []byte, text string) []byte {
	return appendLines(dst, ": ", text, strings.IndexByte)
}

// AppendRetry appends a "retry" field, which sets the client's reconnection
// delay, followed by a blank line, and returns the extended buffer. d is
// written in whole milliseconds, rounded down; a negative d is written as 0.
// The blank line dispatches no event, since the block carries no data.
func AppendRetry(dst []byte, d time.Duration) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, max(d.Milliseconds(), 0), 10)
	return append(dst, '\n', '\n')
}

// ValidField reports whether s can be written as an event id or event name:
// it must not contain CR, LF or NUL. A CR or LF would end the line early and
// let the rest of s inject fields; a client ignores an id that contains NUL.
func ValidField(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}

// appendLines appends prefix, line and LF for each line of s, where lines are
// separated by CRLF, CR or LF; s with no line break is one line, and an empty
// s is one empty line. index is bytes.IndexByte or strings.IndexByte.
//
// The positions of the next CR and of the next LF are remembered between
// lines, so each byte of s is searched at most twice and the cost stays
// linear even for inputs such as a long run of CRs.
func appendLines[T string | []byte](dst []byte, prefix string, s T, index func(T, byte) int) []byte {
	cr, lf := index(s, '\r'), index(s, '\n')
	off := 0
	for {
		end := lf
		if cr >= 0 && (lf < 0 || cr < lf) {
			end = cr
		}
		if end < 0 {
			dst = append(dst, prefix...)
			dst = append(dst, s[off:]...)
			return append(dst, '\n')
		}
		dst = append(dst, prefix...)
		dst = append(dst, s[off:end]...)
		dst = append(dst, '\n')
		off = end + 1
		if s[end] == '\r' && off < len(s) && s[off] == '\n' {
			off++
		}
		if cr >= 0 && cr < off {
			cr = next(s[off:], '\r', off, index)
		}
		if lf >= 0 && lf < off {
			lf = next(s[off:], '\n', off, index)
		}
	}
}

// next returns the position of c in the whole string when rest starts at
// offset off of it, or -1 when rest holds no c.
func next[T string | []byte](rest T, c byte, off int, index func(T, byte) int) int {
	i := index(rest, c)
	if i < 0 {
		return -1
	}
	return off + i
}

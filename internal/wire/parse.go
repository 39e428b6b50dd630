package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Errors returned by Parser.Next. Once Next has returned one of them, the
// Parser is done: every later call returns the same error.
var (
	// ErrLineTooLong reports a line longer than Parser.MaxLineBytes.
	ErrLineTooLong = errors.New("ssevents: event stream line too long")
	// ErrEventTooLarge reports an event whose data is longer than
	// Parser.MaxEventBytes.
	ErrEventTooLarge = errors.New("ssevents: event stream event too large")
)

const (
	// DefaultMaxLineBytes is the line limit of a Parser whose MaxLineBytes
	// is zero: 1 MiB.
	DefaultMaxLineBytes = 1 << 20
	// DefaultMaxEventBytes is the data limit of a Parser whose MaxEventBytes
	// is zero: 16 MiB.
	DefaultMaxEventBytes = 16 << 20
)

const (
	// initialBufferSize is the first size of the read buffer. 4 KiB holds
	// many typical events (a few hundred bytes of JSON each) and is the
	// chunk size net/http reads response bodies in; the buffer grows, up to
	// the line limit, only when one line does not fit.
	initialBufferSize = 4 << 10
	// keepDataBytes is the largest data buffer kept for the next event, so
	// that one huge event does not pin its memory for the stream's lifetime.
	keepDataBytes = 64 << 10
	// maxEmptyReads is how many reads in a row may return no bytes and no
	// error before the reader is treated as broken, as in package bufio.
	maxEmptyReads = 100
	// utf8BOM is the byte order mark that may start a stream.
	utf8BOM = "\xEF\xBB\xBF"
)

// Event is one event dispatched by a Parser.
type Event struct {
	// ID is the stream's last event ID after this event: the value of the
	// last valid "id" field seen so far, in this event or an earlier one.
	ID string
	// Name is the event type: the value of the event's last "event" field,
	// or "message" when it had none or an empty one.
	Name string
	// Data is the event's "data" field values joined with LF.
	Data string
	// Topic is the value of the event's last "topic" field, ssevents'
	// extension (see AppendTopic): the topic a stream of several topics
	// delivered the event on. Empty when the event had none, as on a
	// stream of one topic.
	Topic string
}

// Parser reads events from a text/event-stream, following the WHATWG HTML
// standard: it strips one leading UTF-8 byte order mark, splits lines on
// CRLF, CR and LF, skips comments and unknown fields (it keeps ssevents'
// "topic" field, in Event.Topic, which the standard leaves unknown), and
// discards an event that the stream ends in the middle of. Bytes are
// passed through as they are: invalid UTF-8 is not replaced with U+FFFD.
//
// Next never reads past the line that completes an event, so it returns an
// event as soon as its blank line has arrived.
//
// A Parser is not safe for concurrent use. Set its exported fields before the
// first call to Next.
type Parser struct {
	// OnLine, when not nil, is called once for every line read, comments
	// and blank lines included, before the line is interpreted. A client can
	// use it to notice that a connection is alive while the server sends
	// only heartbeat comments. It runs on the goroutine that calls Next.
	OnLine func()
	// MaxLineBytes is the longest line, not counting its line ending, that
	// Next accepts; a longer one makes Next return ErrLineTooLong. Zero or a
	// negative value means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxEventBytes is the most data, counting the LF after each "data"
	// line, that one event may carry; more makes Next return
	// ErrEventTooLarge. Zero or a negative value means DefaultMaxEventBytes.
	MaxEventBytes int

	r   io.Reader
	err error // the read error or limit error to return once buf is used up

	buf        []byte
	start, end int // buf[start:end] holds bytes read but not yet consumed
	// lfAt is the position of the next LF when it is at least start;
	// otherwise buf[start:lfScan] holds no LF. crScan is the same for CR:
	// buf[start:crScan] holds no CR. They keep each byte from being searched
	// more than twice however the stream mixes CR and LF line endings.
	lfAt, lfScan, crScan int
	skipLF               bool // the last line ended with a CR at the end of buf
	bomDone              bool // the start of the stream was checked for a BOM

	data     []byte        // data buffer: each "data" value followed by LF
	name     []byte        // event type buffer
	topic    []byte        // topic buffer (the "topic" extension field)
	idBuf    string        // last event ID buffer
	lastID   string        // last event ID, updated on each blank line
	lastName string        // the previous non-empty Name, reused to save allocations
	lastTop  string        // the previous non-empty Topic, reused to save allocations
	retry    time.Duration // last valid "retry" value
}

// NewParser returns a Parser that reads the event stream from r.
func NewParser(r io.Reader) *Parser {
	return &Parser{r: r, lfAt: -1}
}

// Next returns the next dispatched event. It returns io.EOF when the stream
// ends, discarding an event the stream ended in the middle of; any other
// read error is returned as it is; ErrLineTooLong and ErrEventTooLarge
// report a stream over the Parser's limits. After an error the Parser is
// done and every later call returns the same error.
func (p *Parser) Next() (Event, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return Event{}, err
		}
		if p.OnLine != nil {
			p.OnLine()
		}
		ev, ok, err := p.processLine(line)
		if err != nil {
			return Event{}, p.fail(err)
		}
		if ok {
			return ev, nil
		}
	}
}

// Retry returns the reconnection delay set by the last valid "retry" field
// read so far, or 0 when there was none. A "retry: 0" also yields 0.
// Values that do not fit in a time.Duration are ignored.
func (p *Parser) Retry() time.Duration {
	return p.retry
}

// LastEventID returns the stream's last event ID: the value of the last valid
// "id" field that a blank line has followed, even if that blank line
// dispatched no event. A client sends it as Last-Event-ID when it reconnects.
func (p *Parser) LastEventID() string {
	return p.lastID
}

// processLine interprets one line. It returns the event when the line is the
// blank line that dispatches one.
func (p *Parser) processLine(line []byte) (Event, bool, error) {
	if len(line) == 0 {
		ev, ok := p.dispatch()
		return ev, ok, nil
	}
	if line[0] == ':' {
		return Event{}, false, nil
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		if len(p.data)+len(value) >= limit(p.MaxEventBytes, DefaultMaxEventBytes) {
			return Event{}, false, ErrEventTooLarge
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "event":
		p.name = append(p.name[:0], value...)
	case "topic":
		p.topic = append(p.topic[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 && string(value) != p.idBuf {
			p.idBuf = string(value)
		}
	case "retry":
		if d, ok := parseRetry(value); ok {
			p.retry = d
		}
	}
	return Event{}, false, nil
}

// dispatch handles a blank line: it sets the last event ID and, when the
// data buffer is not empty, returns the event the buffers hold. Either way
// it empties the data, event type and topic buffers.
func (p *Parser) dispatch() (Event, bool) {
	p.lastID = p.idBuf
	if len(p.data) == 0 {
		p.name, p.topic = p.name[:0], p.topic[:0]
		return Event{}, false
	}
	ev := Event{ID: p.lastID, Name: "message", Data: string(p.data[:len(p.data)-1])}
	if len(p.name) > 0 {
		if string(p.name) != p.lastName {
			p.lastName = string(p.name)
		}
		ev.Name = p.lastName
	}
	if len(p.topic) > 0 {
		if string(p.topic) != p.lastTop {
			p.lastTop = string(p.topic)
		}
		ev.Topic = p.lastTop
	}
	p.data, p.name, p.topic = p.data[:0], p.name[:0], p.topic[:0]
	if cap(p.data) > keepDataBytes {
		p.data = nil
	}
	return ev, true
}

// parseRetry parses a "retry" value: one or more ASCII digits giving
// milliseconds that fit in a time.Duration.
func parseRetry(v []byte) (time.Duration, bool) {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	if len(v) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if ms > (maxMS-d)/10 {
			return 0, false
		}
		ms = ms*10 + d
	}
	return time.Duration(ms) * time.Millisecond, true
}

// limit returns n, or def when n is not positive.
func limit(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// fail makes err the Parser's final error and returns it.
func (p *Parser) fail(err error) error {
	p.err = err
	p.start, p.end = 0, 0
	p.lfAt, p.lfScan, p.crScan = -1, 0, 0
	return err
}

// errInvalidRead reports a reader that broke the io.Reader contract.
var errInvalidRead = errors.New("ssevents: reader returned an invalid byte count")

// readLine returns the next line without its line ending. The line is valid
// until the next call. A final line that the stream ends before its line
// ending is discarded: readLine returns the read error instead.
func (p *Parser) readLine() ([]byte, error) {
	maxLine := limit(p.MaxLineBytes, DefaultMaxLineBytes)
	for {
		if p.start < p.end {
			if !p.bomDone {
				avail := p.buf[p.start:p.end]
				n := min(len(avail), len(utf8BOM))
				switch {
				case string(avail[:n]) != utf8BOM[:n]:
					p.bomDone = true
				case n == len(utf8BOM):
					p.start += n
					p.bomDone = true
					continue
				case p.err != nil:
					p.bomDone = true
				default:
					p.fill(maxLine)
					continue
				}
			}
			if p.skipLF {
				p.skipLF = false
				if p.buf[p.start] == '\n' {
					p.start++
					continue
				}
			}
			if i := p.indexEOL(); i >= 0 {
				line := p.buf[p.start:i]
				p.start = i + 1
				if p.buf[i] == '\r' {
					if p.start < p.end {
						if p.buf[p.start] == '\n' {
							p.start++
						}
					} else {
						p.skipLF = true
					}
				}
				if len(line) > maxLine {
					return nil, p.fail(ErrLineTooLong)
				}
				return line, nil
			}
			if p.end-p.start > maxLine {
				return nil, p.fail(ErrLineTooLong)
			}
		}
		if p.err != nil {
			return nil, p.err
		}
		p.fill(maxLine)
	}
}

// indexEOL returns the position of the first CR or LF in buf[start:end], or
// -1 when there is none.
func (p *Parser) indexEOL() int {
	if p.lfAt < p.start {
		from := max(p.lfScan, p.start)
		if i := bytes.IndexByte(p.buf[from:p.end], '\n'); i >= 0 {
			p.lfAt, p.lfScan = from+i, from+i+1
		} else {
			p.lfAt, p.lfScan = -1, p.end
		}
	}
	to := p.end
	if p.lfAt >= p.start {
		to = p.lfAt
	}
	from := max(p.crScan, p.start)
	if i := bytes.IndexByte(p.buf[from:to], '\r'); i >= 0 {
		p.crScan = from + i
		return from + i
	}
	p.crScan = to
	if p.lfAt >= p.start {
		return p.lfAt
	}
	return -1
}

// fill reads more bytes into buf, first making room by moving the unconsumed
// bytes to the front or, when they fill buf, by growing it up to one byte
// more than the line limit. A read error is kept in p.err.
func (p *Parser) fill(maxLine int) {
	switch {
	case p.buf == nil:
		p.buf = make([]byte, initialBufferSize)
	case p.start == p.end:
		p.start, p.end = 0, 0
		p.lfAt, p.lfScan, p.crScan = -1, 0, 0
	case p.end == len(p.buf) && p.start > 0:
		n := p.start
		p.end = copy(p.buf, p.buf[n:p.end])
		p.start = 0
		if p.lfAt >= n {
			p.lfAt -= n
		} else {
			p.lfAt = -1
		}
		p.lfScan, p.crScan = max(p.lfScan-n, 0), max(p.crScan-n, 0)
	case p.end == len(p.buf):
		// readLine returns ErrLineTooLong before the unconsumed bytes
		// exceed maxLine, so len(p.buf) <= maxLine here and buf grows.
		// (Comparing before adding 1 avoids overflow for huge limits.)
		size := 2 * len(p.buf)
		if size > maxLine {
			size = maxLine + 1
		}
		buf := make([]byte, size)
		copy(buf, p.buf[:p.end])
		p.buf = buf
	}
	for range maxEmptyReads {
		n, err := p.r.Read(p.buf[p.end:])
		if n < 0 || n > len(p.buf)-p.end {
			p.err = fmt.Errorf("%w: %d", errInvalidRead, n)
			return
		}
		p.end += n
		if err != nil {
			p.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	p.err = io.ErrNoProgress
}

package wire_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/wire"
)

// parseResult is everything a Parser reports about a whole stream.
type parseResult struct {
	Events []wire.Event
	LastID string
	Retry  time.Duration
	Lines  int   // calls of OnLine
	Err    error // the error that ended the stream
}

// referenceParse is a deliberately naive, byte-by-byte transcription of the
// WHATWG "interpreting an event stream" algorithm. It is the oracle the
// real Parser is compared with; it has no limits and assumes the stream
// ends with io.EOF.
func referenceParse(stream []byte) parseResult {
	var res parseResult
	stream = bytes.TrimPrefix(stream, []byte("\xEF\xBB\xBF"))

	var lines []string
	var cur []byte
	for i := 0; i < len(stream); i++ {
		switch c := stream[i]; c {
		case '\r':
			if i+1 < len(stream) && stream[i+1] == '\n' {
				i++
			}
			lines = append(lines, string(cur))
			cur = nil
		case '\n':
			lines = append(lines, string(cur))
			cur = nil
		default:
			cur = append(cur, c)
		}
	}
	// Whatever is left in cur has no line ending: the stream ended in the
	// middle of a line, and that line is discarded.

	var data, eventType, topic, idBuf string
	for _, line := range lines {
		res.Lines++
		if line == "" {
			res.LastID = idBuf
			if data == "" {
				data, eventType, topic = "", "", ""
				continue
			}
			ev := wire.Event{ID: idBuf, Name: eventType, Data: strings.TrimSuffix(data, "\n"), Topic: topic}
			if ev.Name == "" {
				ev.Name = "message"
			}
			res.Events = append(res.Events, ev)
			data, eventType, topic = "", "", ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			eventType = value
		case "topic": // ssevents' extension, an unknown field to the standard
			topic = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		case "retry":
			if ms, ok := referenceRetry(value); ok {
				res.Retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
	res.Err = io.EOF
	return res
}

// referenceRetry parses a retry value: ASCII digits only, at least one, and
// small enough for a time.Duration (the Parser ignores larger values).
func referenceRetry(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var ms float64
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0, false
		}
		ms = ms*10 + float64(c-'0')
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, false
	}
	var n int64
	for _, c := range []byte(v) {
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseAll runs a Parser over r to the end and collects what it reports.
func parseAll(t testing.TB, r io.Reader, configure func(*wire.Parser)) parseResult {
	t.Helper()
	var res parseResult
	p := wire.NewParser(r)
	p.OnLine = func() { res.Lines++ }
	if configure != nil {
		configure(p)
	}
	for {
		ev, err := p.Next()
		if err != nil {
			res.Err = err
			break
		}
		res.Events = append(res.Events, ev)
		if len(res.Events) > 1<<20 {
			t.Fatal("parser returned more than 1<<20 events")
		}
	}
	if _, err := p.Next(); !errors.Is(err, res.Err) {
		t.Errorf("Next after %v returned %v, want the same error again", res.Err, err)
	}
	res.LastID = p.LastEventID()
	res.Retry = p.Retry()
	return res
}

package bench

import (
	"bytes"
	"strconv"
	"time"
)

// payload formats the data of benchmark event seq published at ts.
func payload(seq uint64, ts time.Time) []byte {
	b := make([]byte, 0, 48)
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts.UnixNano(), 10)
	return append(b, '}')
}

// parsePayload reads what payload wrote, without the cost of encoding/json
// on a path that runs a million times a second.
func parsePayload(data []byte) (seq uint64, ts int64, ok bool) {
	rest, found := bytes.CutPrefix(data, []byte(`{"seq":`))
	if !found {
		return 0, 0, false
	}
	s, rest, found := bytes.Cut(rest, []byte(`,"ts":`))
	if !found {
		return 0, 0, false
	}
	t, found := bytes.CutSuffix(rest, []byte("}"))
	if !found {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(string(s), 10, 64)
	ts, err2 := strconv.ParseInt(string(t), 10, 64)
	return seq, ts, err1 == nil && err2 == nil && seq > 0
}

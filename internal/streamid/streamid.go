// Package streamid parses, orders and generates event ids of the form
// "<milliseconds>-<sequence>", the form Redis Streams use, and merges
// per-topic lists in id order. The embedded broker issues ids of the same
// form, so ids compare the same way whichever broker issued them.
package streamid

import (
	"errors"
	"iter"
	"strconv"
	"strings"
)

// ID is a parsed event id: a millisecond timestamp and a sequence number
// within that millisecond. IDs order by (Ms, Seq).
type ID struct {
	// Ms is the timestamp part, in milliseconds since the Unix epoch.
	Ms uint64
	// Seq orders ids within one millisecond.
	Seq uint64
}

// ErrSyntax reports a string that is not of the form "<ms>-<seq>".
var ErrSyntax = errors.New("streamid: malformed id")

// Parse parses s, which must be "<ms>-<seq>" with both parts decimal.
func Parse(s string) (ID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok || ms == "" || seq == "" {
		return ID{}, ErrSyntax
	}
	m, err := strconv.ParseUint(ms, 10, 64)
	if err != nil {
		return ID{}, ErrSyntax
	}
	q, err := strconv.ParseUint(seq, 10, 64)
	if err != nil {
		return ID{}, ErrSyntax
	}
	return ID{Ms: m, Seq: q}, nil
}

// String formats id as "<ms>-<seq>".
func (id ID) String() string {
	b := make([]byte, 0, 24)
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Seq, 10)
	return string(b)
}

// Compare returns -1, 0 or +1 as a is before, equal to or after b.
func Compare(a, b ID) int {
	switch {
	case a.Ms < b.Ms:
		return -1
	case a.Ms > b.Ms:
		return 1
	case a.Seq < b.Seq:
		return -1
	case a.Seq > b.Seq:
		return 1
	}
	return 0
}

// Less reports whether a is before b.
func (id ID) Less(b ID) bool { return Compare(id, b) < 0 }

// IsZero reports whether id is the zero id "0-0".
func (id ID) IsZero() bool { return id.Ms == 0 && id.Seq == 0 }

// Next returns the id that follows last at wall-clock time nowMs, the way
// Redis generates stream ids: the timestamp never goes backwards, and events
// in the same millisecond get increasing sequence numbers.
func Next(last ID, nowMs uint64) ID {
	if nowMs > last.Ms {
		return ID{Ms: nowMs}
	}
	return ID{Ms: last.Ms, Seq: last.Seq + 1}
}

// Merge yields the elements of lists, each sorted by id, in id order. Of
// the elements that share a key (the copies of one event published to
// several of the lists' topics) it yields the first only; an element whose
// key is the zero K has no copies and is always yielded. Merge consumes
// lists: it reslices them as it goes.
func Merge[T any, K comparable](lists [][]T, id func(T) ID, key func(T) K) iter.Seq[T] {
	return func(yield func(T) bool) {
		var zero K
		var seen map[K]bool // keys of the copied elements yielded
		for {
			best := -1
			for i := range lists {
				if len(lists[i]) > 0 && (best < 0 || id(lists[i][0]).Less(id(lists[best][0]))) {
					best = i
				}
			}
			if best < 0 {
				return
			}
			e := lists[best][0]
			lists[best] = lists[best][1:]
			if k := key(e); k != zero {
				if seen[k] {
					continue
				}
				if seen == nil {
					seen = make(map[K]bool)
				}
				seen[k] = true
			}
			if !yield(e) {
				return
			}
		}
	}
}

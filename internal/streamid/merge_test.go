package streamid_test

import (
	"slices"
	"testing"

	"github.com/ssevents/ssevents/internal/streamid"
)

// item is an element of a per-topic list: an id, a copy key ("" for none)
// and a name to tell the elements apart in the result.
type item struct {
	id   streamid.ID
	key  string
	name string
}

func itemID(i item) streamid.ID { return i.id }
func itemKey(i item) string     { return i.key }

func TestMerge(t *testing.T) {
	t.Parallel()
	id := func(ms uint64) streamid.ID { return streamid.ID{Ms: ms} }
	for _, tc := range []struct {
		name  string
		lists [][]item
		want  []string
	}{
		{"none", nil, nil},
		{"empty lists", [][]item{{}, {}}, nil},
		{"one list", [][]item{{{id(1), "", "a"}, {id(2), "", "b"}}}, []string{"a", "b"}},
		{"interleaved", [][]item{
			{{id(1), "", "a1"}, {id(4), "", "a4"}},
			{{id(2), "", "b2"}, {id(3), "", "b3"}, {id(9), "", "b9"}},
		}, []string{"a1", "b2", "b3", "a4", "b9"}},
		{"copies of a multi-topic event kept once", [][]item{
			{{id(1), "", "a1"}, {id(5), "m", "a5"}},
			{{id(5), "m", "b5"}, {id(6), "", "b6"}},
			{{id(5), "m", "c5"}},
		}, []string{"a1", "a5", "b6"}},
		{"copies with different ids (a cluster) kept once", [][]item{
			{{id(2), "m", "a2"}},
			{{id(7), "m", "b7"}, {id(8), "", "b8"}},
		}, []string{"a2", "b8"}},
		{"same id without a key: distinct events", [][]item{
			{{id(3), "", "a3"}},
			{{id(3), "", "b3"}},
		}, []string{"a3", "b3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for i := range streamid.Merge(tc.lists, itemID, itemKey) {
				got = append(got, i.name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeStopsEarly(t *testing.T) {
	t.Parallel()
	lists := [][]item{{{streamid.ID{Ms: 1}, "", "a"}, {streamid.ID{Ms: 2}, "", "b"}}}
	var got []string
	for i := range streamid.Merge(lists, itemID, itemKey) {
		got = append(got, i.name)
		break
	}
	if !slices.Equal(got, []string{"a"}) {
		t.Errorf("got %v, want [a]", got)
	}
}

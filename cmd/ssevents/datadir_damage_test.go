package main_test

import (
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// damageTopics are the topics of the events a damage test publishes, in
// turn: event i is on damageTopics[i%3].
var damageTopics = []string{"a", "b", "c"}

const (
	// damageEvents is how many events a damage test publishes.
	damageEvents = 30
	// damagedEvent is the event whose record is damaged, in the middle
	// of the segment, on topic damageTopics[damagedEvent%3] ("a").
	damagedEvent = 15
)

// stoppedHistory runs a hub on a new directory, publishes damageEvents
// events, stops it (SIGTERM) and returns the directory, the ids of the
// events in order, and where their records are in its only segment.
func stoppedHistory(t *testing.T, bin string) (dir string, ids []string, seg string, frames []segFrame) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	h := startDurableHub(t, bin, dir)
	for i := range damageEvents {
		ids = append(ids, mustPost(t, h, []string{damageTopics[i%3]}, payload("d"+string(rune('A'+i)), 200)))
	}
	h.terminate(t, termLimit)
	segs := segmentFiles(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want one", segs)
	}
	frames = segFrames(t, segs[0])
	if len(frames) != damageEvents {
		t.Fatalf("%d records in %s, want the %d events", len(frames), segs[0], damageEvents)
	}
	return dir, ids, segs[0], frames
}

// wantEvents fails the test unless r replayed exactly the events of ids
// whose indexes are in want, in order.
func wantEvents(t *testing.T, r historyRead, ids []string, want []int, what string) {
	t.Helper()
	var wantIDs []string
	for _, i := range want {
		wantIDs = append(wantIDs, ids[i])
	}
	if got := r.ids(); !slices.Equal(got, wantIDs) {
		t.Errorf("%s replayed %v, want %v", what, got, wantIDs)
	}
}

// eventIndexes returns the indexes of the events on topics after event from
// (-1: all), but skip.
func eventIndexes(topics []string, from, skip int) []int {
	var out []int
	for i := from + 1; i < damageEvents; i++ {
		if i != skip && slices.Contains(topics, damageTopics[i%3]) {
			out = append(out, i)
		}
	}
	return out
}

// testDataDirTornTail: the last segment cut in the middle of its last
// record (in its data, its header or its frame) while the hub is stopped.
// The hub starts, logs it, cuts the file back to the record before it,
// holds every other event, and issues ids after them; started again, it
// finds nothing more to cut.
func testDataDirTornTail(t *testing.T, bin string) {
	dir, ids, seg, frames := stoppedHistory(t, bin)
	last := frames[len(frames)-1]
	tests := []struct {
		name string
		size int // the segment is cut to
	}{
		{"in the data", last.dataOff() + (last.end()-last.dataOff())/2},
		{"in the header", last.off + frameBytes + last.header/2},
		{"in the frame", last.off + frameBytes/2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, dir)
			seg := filepath.Join(dir, filepath.Base(seg))
			if err := os.Truncate(seg, int64(tt.size)); err != nil {
				t.Fatal(err)
			}
			first := readDataset(t, dir).First
			for start := range 2 {
				h := startDurableHub(t, bin, dir)
				torn := strings.Contains(h.log.String(), "torn record")
				if start == 0 && !torn {
					t.Errorf("the hub did not log the torn record:\n%s", h.log)
				}
				if start == 1 && torn {
					t.Errorf("started again, the hub found a torn record again:\n%s", h.log)
				}
				if fi, err := os.Stat(seg); start == 0 && (err != nil || fi.Size() != int64(last.off)) {
					t.Errorf("segment after the start: %v, %v; want it cut to %d bytes, the end of the last whole record", fi, err, last.off)
				}
				r := readHistory(t, h, damageTopics, first)
				if len(r.resyncs) != 0 {
					t.Errorf("start %d: resyncs %+v, want none", start, r.resyncs)
				}
				wantEvents(t, r, ids, eventIndexes(damageTopics, -1, damageEvents-1), "the history")
				if marker := mustParseID(t, r.marker); !mustParseID(t, ids[damageEvents-2]).Less(marker) {
					t.Errorf("id %s issued after the restart, not after the last event %s read back", marker, ids[damageEvents-2])
				}
				h.terminate(t, termLimit)
			}
		})
	}
}

// testDataDirDamage: one record in the middle of the segment damaged while
// the hub is stopped, in its data or in its header. The hub starts, logs
// and counts it, and holds every other event. With the header intact the
// record's topic is known: a resume on it from before the record answers
// resync data_lost, a resume on the other topics none. With the header
// damaged the topic is not known: a resume on any topic from before the
// next good record answers resync data_lost.
func testDataDirDamage(t *testing.T, bin string) {
	dir, ids, seg, frames := stoppedHistory(t, bin)
	rec := frames[damagedEvent]
	tests := []struct {
		name   string
		offset int    // of the byte flipped
		logged string // in the hub's log
		// headerOK: the damaged record's topics are still known.
		headerOK bool
	}{
		{"data", rec.dataOff() + 10, "damaged record in history skipped", true},
		{"last byte of data", rec.end() - 1, "damaged record in history skipped", true},
		{"header: id", rec.off + frameBytes + 3, "damaged span in history skipped", false},
		{"header: topic name", rec.dataOff() - 3, "damaged span in history skipped", false},
		{"frame: payload length", rec.off + 5, "damaged span in history skipped", false},
		{"frame: magic", rec.off, "damaged span in history skipped", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, dir)
			path := filepath.Join(dir, filepath.Base(seg))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[tt.offset] ^= 0x5a
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			h := startDurableHub(t, bin, dir)
			if !strings.Contains(h.log.String(), tt.logged) {
				t.Errorf("the hub's log does not say %q:\n%s", tt.logged, h.log)
			}
			if n := brokerErrors(t, h); n < 1 {
				t.Errorf("sse_broker_errors %v after the damage, want at least 1", n)
			}
			topic := damageTopics[damagedEvent%3]
			first := readDataset(t, dir).First
			all := readHistory(t, h, damageTopics, first)
			wantEvents(t, all, ids, eventIndexes(damageTopics, -1, damagedEvent), "the history")
			for _, tp := range damageTopics {
				// From the event before the damaged one, from it, and
				// from the one after it.
				for _, from := range []int{damagedEvent - 1, damagedEvent, damagedEvent + 1} {
					r := readHistory(t, h, []string{tp}, ids[from])
					wantEvents(t, r, ids, eventIndexes([]string{tp}, from, damagedEvent), "a resume on "+tp+" from "+ids[from])
					want := ""
					if tt.headerOK && tp == topic && from < damagedEvent || !tt.headerOK && from <= damagedEvent {
						want = "data_lost"
					}
					if got := r.reasons()[tp]; got != want {
						t.Errorf("a resume on %s from event %d (%s), with event %d (%s) of %s damaged: resync %q, want %q",
							tp, from, ids[from], damagedEvent, ids[damagedEvent], topic, got, want)
					}
				}
			}
			wantReasons := map[string]string{topic: "data_lost"}
			if !tt.headerOK {
				wantReasons = map[string]string{"a": "data_lost", "b": "data_lost", "c": "data_lost"}
			}
			if got := all.reasons(); !maps.Equal(got, wantReasons) {
				t.Errorf("a resume from the dataset's first id %s: resyncs %v, want %v", first, got, wantReasons)
			}
		})
	}
}

// brokerErrors returns sse_broker_errors from the hub's Prometheus
// metrics.
func brokerErrors(t *testing.T, h *hubProc) float64 {
	t.Helper()
	resp := request(t, http.MethodGet, h.url()+"/metrics/prometheus", "", nil)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		name, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		if name == "sse_broker_errors" || name == "sse_broker_errors_total" {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no sse_broker_errors in /metrics/prometheus:\n%s", body)
	return 0
}

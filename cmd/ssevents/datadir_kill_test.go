package main_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// Shape of the kill -9 runs: hubs one after the other on one directory,
// each killed after a number of acknowledged publishes drawn between
// killMinAcks and killMaxAcks, while killPublishers publish concurrently
// (each to one or two of killTopics) and a reader streams all of them.
const (
	killPublishers = 4
	killMinAcks    = 10
	killMaxAcks    = 250
	// killDataBytes is the size of an event's data: a record of a few
	// kilobytes, so that a kill often falls inside a write and the
	// segments (1 MiB with killMaxBytes) fill up within a run.
	killDataBytes = 3000
	// killMaxBytes is SSE_HISTORY_MAX_BYTES: the smallest segments, and
	// room for every event of a run.
	killMaxBytes = "8388608"
	// killResends is how many acknowledged publishes are sent again,
	// with their idempotency keys, after each restart.
	killResends = 5
)

var killTopics = []string{"k0", "k1", "k2", "k3"}

// testDataDirKill9 returns a test of rounds kills with SSE_FSYNC=fsync:
// after kill -9 at a random moment during concurrent publishes and a
// restart on the same directory, every publish answered 2xx is in the
// history, in id order, once, with the id it was answered with; nothing
// is there that was not published; every event a stream received before
// the kill (delivered implies written) and every event a previous restart
// replayed is still there; ids issued after the restart are greater than
// all before it; a resume from the dataset's first id or from an
// acknowledged id is answered without a resync. The publishes whose
// answers the kill took, and a few acknowledged ones, are sent again with
// their idempotency keys (as `bench --check` settles an unknown outcome):
// one in the history is answered with its id, never published twice. A
// process crash loses nothing acknowledged whatever the fsync mode.
func testDataDirKill9(fsync string, rounds int) func(t *testing.T, bin string) {
	return func(t *testing.T, bin string) { testKill9(t, bin, fsync, rounds) }
}

func testKill9(t *testing.T, bin, fsync string, rounds int) {
	dir := filepath.Join(t.TempDir(), "data")
	pl := &publishLog{sent: map[string][]string{}, acked: map[string]string{}}
	delivered := map[string]string{} // id -> key of every event a stream received
	var dataset string
	for round := range rounds + 1 {
		h := startDurableHub(t, bin, dir, "SSE_FSYNC="+fsync, "SSE_HISTORY_MAX_BYTES="+killMaxBytes)
		ds := readDataset(t, dir)
		if round == 0 {
			dataset = ds.Dataset
		} else {
			if ds.Dataset != dataset {
				t.Fatalf("round %d: dataset %s after the restart, want %s: kill -9 is not a new dataset\nhub log:\n%s", round, ds.Dataset, dataset, h.log)
			}
			inHistory := checkAfterKill(t, h, ds.First, pl, delivered)
			pl.settle(t, h, inHistory)
		}
		if round == rounds {
			t.Logf("%d segment files", len(segmentFiles(t, dir)))
			return
		}
		target := killMinAcks + rand.IntN(killMaxAcks-killMinAcks)
		rd := startLiveReader(t, h, killTopics)
		stop := pl.publish(t, h, round, target)
		select {
		case <-pl.reached:
		case <-time.After(testTimeout):
			t.Fatalf("round %d: %d of %d publishes acknowledged within %v\nhub log:\n%s", round, pl.count(), target, testTimeout, h.log)
		}
		if err := h.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-h.done
		stop()
		got := rd.wait(t)
		for _, ev := range got {
			key := eventKey(t, ev)
			if !pl.wasSent(key) {
				t.Errorf("round %d: the live stream received %s (%s), which no one published", round, ev.ID, key)
			}
			delivered[ev.ID] = key
		}
		t.Logf("round %d: killed after %d acknowledged publishes (target %d); %d sent in all, %d acknowledged, the live stream had %d",
			round, pl.count(), target, len(pl.sent), len(pl.acked), len(got))
	}
}

// checkAfterKill checks the history of the restarted hub h against the
// publishes of pl and the events delivered before, which it adds to. It
// returns the id of each key in the history.
func checkAfterKill(t *testing.T, h *hubProc, first string, pl *publishLog, delivered map[string]string) map[string]string {
	t.Helper()
	hist := readHistory(t, h, killTopics, first)
	if len(hist.resyncs) != 0 {
		t.Errorf("a resume from the dataset's first id %s got resyncs %+v", first, hist.resyncs)
	}
	hist.checkOrder(t, first)
	byID := map[string]string{}  // id -> key, in the history
	byKey := map[string]string{} // key -> id, in the history
	for _, ev := range hist.events {
		key := eventKey(t, ev)
		if !pl.wasSent(key) {
			t.Errorf("phantom: %s (%s) is in the history, but no one published it", ev.ID, key)
		}
		if id, ok := pl.acked[key]; ok && id != ev.ID {
			t.Errorf("%s was acknowledged with id %s but is in the history as %s", key, id, ev.ID)
		}
		if id, ok := byKey[key]; ok {
			t.Errorf("duplicate: %s is in the history as %s and %s", key, id, ev.ID)
		}
		byID[ev.ID], byKey[key] = key, ev.ID
	}
	lost := 0
	for key, id := range pl.acked {
		if byID[id] != key {
			lost++
			t.Errorf("lost: %s was acknowledged with id %s, and is not in the history", key, id)
		}
	}
	for id, key := range delivered {
		if byID[id] != key {
			t.Errorf("%s (%s) was delivered, so written, and is not in the history", id, key)
		}
	}
	// The marker was the first publish after the restart.
	marker := mustParseID(t, hist.marker)
	for id := range byID {
		if !mustParseID(t, id).Less(marker) {
			t.Errorf("the first id after the restart, %s, is not after %s of the history", marker, id)
		}
	}
	for _, id := range pl.acked {
		if !mustParseID(t, id).Less(marker) {
			t.Errorf("the first id after the restart, %s, is not after the acknowledged %s", marker, id)
		}
	}
	// A resume from an acknowledged id replays exactly what follows it.
	ids := hist.ids()
	if len(pl.acked) > 0 {
		acked := slices.Collect(maps.Values(pl.acked))
		from := mustParseID(t, acked[rand.IntN(len(acked))])
		r := readHistory(t, h, killTopics, from.String())
		if len(r.resyncs) != 0 {
			t.Errorf("a resume from the acknowledged id %s got resyncs %+v", from, r.resyncs)
		}
		want := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !from.Less(mustParseID(t, id)) })
		if !slices.Equal(r.ids(), want) {
			t.Errorf("a resume from %s replayed %d events, want the %d after it in the history", from, len(r.ids()), len(want))
		}
	}
	for id, key := range byID {
		delivered[id] = key // replayed: it must stay
	}
	t.Logf("after the restart: %d events in the history, %d acknowledged, %d sent, %d lost", len(ids), len(pl.acked), len(pl.sent), lost)
	return byKey
}

// settle sends again, with their idempotency keys and the same requests,
// the publishes whose answers were lost and killResends acknowledged
// ones: the hub must answer each that is in the history with its id.
// Those it publishes now are acknowledged.
func (pl *publishLog) settle(t *testing.T, h *hubProc, inHistory map[string]string) {
	t.Helper()
	var keys, acked []string
	for key := range pl.sent {
		if _, ok := pl.acked[key]; ok {
			acked = append(acked, key)
		} else {
			keys = append(keys, key)
		}
	}
	unknown := len(keys)
	for range killResends {
		keys = append(keys, acked[rand.IntN(len(acked))])
	}
	for _, key := range keys {
		ans, err := post(t.Context(), h.url(), pl.sent[key], payload(key, killDataBytes), key)
		if err != nil || ans.status != http.StatusOK {
			t.Errorf("publish %s again with its key: %+v, %v; want 200", key, ans, err)
			continue
		}
		if id, ok := pl.acked[key]; ok && ans.id != id {
			t.Errorf("publish %s again with its key: id %s, but it was acknowledged as %s", key, ans.id, id)
		}
		if id, ok := inHistory[key]; ok && ans.id != id {
			t.Errorf("publish %s again with its key: id %s, but the history holds it as %s: published twice", key, ans.id, id)
		}
		pl.acked[key] = ans.id
	}
	t.Logf("settled %d publishes whose answers were lost, and sent %d acknowledged again", unknown, killResends)
}

// publishLog records the publishes of a kill test: every key sent, and
// the id each acknowledged one was answered with.
type publishLog struct {
	mu      sync.Mutex
	sent    map[string][]string // key -> topics
	acked   map[string]string   // key -> id
	round   int                 // acknowledged in the current round
	target  int
	reached chan struct{} // closed when round reaches target
}

func (pl *publishLog) wasSent(key string) bool {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	_, ok := pl.sent[key]
	return ok
}

func (pl *publishLog) count() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.round
}

// publish starts killPublishers publishers to h, which publish until h is
// gone; pl.reached is closed once target of them are acknowledged. The
// function returned waits for the publishers to end.
func (pl *publishLog) publish(t *testing.T, h *hubProc, round, target int) func() {
	pl.mu.Lock()
	pl.round, pl.target, pl.reached = 0, target, make(chan struct{})
	pl.mu.Unlock()
	var wg sync.WaitGroup
	for p := range killPublishers {
		wg.Go(func() {
			for n := 0; ; n++ {
				key := fmt.Sprintf("r%dp%dn%d", round, p, n)
				topics := []string{killTopics[rand.IntN(len(killTopics))]}
				if n%3 == 0 {
					if other := killTopics[rand.IntN(len(killTopics))]; other != topics[0] {
						topics = append(topics, other)
					}
				}
				pl.mu.Lock()
				pl.sent[key] = topics
				pl.mu.Unlock()
				ans, err := post(t.Context(), h.url(), topics, payload(key, killDataBytes), key)
				if err != nil {
					return // killed
				}
				if ans.status != http.StatusOK || ans.id == "" {
					t.Errorf("publish %s before the kill: %+v, want 200 with an id", key, ans)
					return
				}
				pl.mu.Lock()
				pl.acked[key] = ans.id
				if pl.round++; pl.round == pl.target {
					close(pl.reached)
				}
				pl.mu.Unlock()
			}
		})
	}
	return wg.Wait
}

// liveReader is a stream that records every event it receives until the
// hub is gone.
type liveReader struct {
	mu     sync.Mutex
	events []sseEvent
	done   chan struct{}
}

// startLiveReader opens a stream of topics on h (live when it returns)
// and reads it in a goroutine.
func startLiveReader(t *testing.T, h *hubProc, topics []string) *liveReader {
	t.Helper()
	s := subscribe(t, h.url()+"/events?"+url.Values{"topic": {strings.Join(topics, ",")}}.Encode(), nil)
	r := &liveReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			ev, err := s.parser.Next()
			if err != nil {
				return
			}
			if ev.Name != "" && ev.Name != "e" {
				t.Errorf("the live stream received %+v", ev)
				continue
			}
			r.mu.Lock()
			r.events = append(r.events, eventOf(ev))
			r.mu.Unlock()
		}
	}()
	return r
}

// wait waits for the stream to end and returns what it received, after
// checking its order.
func (r *liveReader) wait(t *testing.T) []sseEvent {
	t.Helper()
	<-r.done
	var prev streamid.ID
	for _, ev := range r.events {
		if id := mustParseID(t, ev.ID); !prev.Less(id) {
			t.Errorf("the live stream received %s after %s", id, prev)
		} else {
			prev = id
		}
	}
	return r.events
}

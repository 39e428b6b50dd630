package main

import (
	"sync"
	"time"
)

// eventLog counts the join and leave events the watchers receive, and
// times those presload expects: from when it closed (leave) or started
// opening (join) a stream to when the watcher of its topic got the event.
type eventLog struct {
	mu      sync.Mutex
	counts  map[string]int             // by kind
	waiting map[changeKey]time.Time    // expected changes not yet seen
	took    map[string][]time.Duration // by kind
}

type changeKey struct {
	topic      int
	kind, user string
}

func newEventLog() *eventLog {
	return &eventLog{counts: map[string]int{}, waiting: map[changeKey]time.Time{}, took: map[string][]time.Duration{}}
}

// expect notes that the watcher of topic should get kind for user, from
// now on.
func (l *eventLog) expect(topic int, kind, user string) {
	l.mu.Lock()
	l.waiting[changeKey{topic, kind, user}] = time.Now()
	l.mu.Unlock()
}

// record counts an event a watcher of topic received.
func (l *eventLog) record(topic int, kind, user string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[kind]++
	k := changeKey{topic, kind, user}
	if at, ok := l.waiting[k]; ok {
		l.took[kind] = append(l.took[kind], now.Sub(at))
		delete(l.waiting, k)
	}
}

// pending is how many expected changes of kind were not seen yet.
func (l *eventLog) pending(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k := range l.waiting {
		if k.kind == kind {
			n++
		}
	}
	return n
}

// take returns the count of kind, its latencies and how many expected
// changes of kind were not seen, and forgets the latencies and those.
func (l *eventLog) take(kind string) (count int, took []time.Duration, missed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.waiting {
		if k.kind == kind {
			missed++
			delete(l.waiting, k)
		}
	}
	took, l.took[kind] = l.took[kind], nil
	return l.counts[kind], took, missed
}

// total returns how many events of kind the watchers received so far.
func (l *eventLog) total(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[kind]
}

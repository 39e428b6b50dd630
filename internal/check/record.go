package check

import (
	"net/http"
	"sync"
	"time"
)

// delivery is one event a stream received.
type delivery struct {
	id    string
	topic string // from the event's data; "" when the data is not ours
	key   string // from the event's data
	at    time.Time
	conn  int // the stream's connection number, from 1
}

// resync is one resync notice a stream received.
type resync struct {
	topics []string
	at     time.Time
	// lastID is the id of the stream's last delivery before it, per
	// topic, and overall under "".
	lastID map[string]string
}

// streamLog is everything one stream saw. Its methods are safe for
// concurrent use: the stream's goroutine writes, the drain loop reads.
type streamLog struct {
	index  int
	url    string
	topics []string

	mu         sync.Mutex
	opened     time.Time // first successful connection; zero if none
	conns      int
	deliveries []delivery
	resyncs    []resync
	lastID     map[string]string // per topic, and overall under ""
	err        error             // why the subscription ended early, if it did
}

func newStreamLog(index int, url string, topics []string) *streamLog {
	return &streamLog{index: index, url: url, topics: topics, lastID: map[string]string{}}
}

// connected records a successful connection.
func (s *streamLog) connected(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns++
	if s.opened.IsZero() {
		s.opened = at
	}
}

// isOpen reports whether the stream has connected at least once.
func (s *streamLog) isOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.opened.IsZero()
}

// deliver records a delivered event.
func (s *streamLog) deliver(d delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d.conn = s.conns
	s.deliveries = append(s.deliveries, d)
	s.lastID[d.topic] = d.id
	s.lastID[""] = d.id
}

// resynced records a resync notice.
func (s *streamLog) resynced(topics []string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := make(map[string]string, len(s.lastID))
	for k, v := range s.lastID {
		last[k] = v
	}
	s.resyncs = append(s.resyncs, resync{topics: topics, at: at, lastID: last})
}

// ended records why the subscription stopped before the run ended.
func (s *streamLog) ended(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// snapshot returns a copy of the log that is safe to read without the lock.
func (s *streamLog) snapshot() streamLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return streamLog{
		index: s.index, url: s.url, topics: s.topics,
		opened: s.opened, conns: s.conns, err: s.err,
		deliveries: append([]delivery(nil), s.deliveries...),
		resyncs:    append([]resync(nil), s.resyncs...),
	}
}

// attempt is one request of a publish.
type attempt struct {
	start, end time.Time
	id         string
	status     int    // the HTTP status of an error answer; 0 otherwise
	err        string // "" for a 2xx answer
}

// publishLog is the history of one publish (one idempotency key).
type publishLog struct {
	key      string
	topic    string
	seq      int
	attempts []attempt
	// acked is true when the final answer was 2xx, with id. A retry
	// follows only an error, so a key has at most one 2xx answer.
	acked bool
	id    string
	// finalStatus is the status of the final error answer; 0 for a
	// transport error or a success.
	finalStatus int
	finalErr    string
	// resolved is true when the publish was acknowledged only by the
	// retry after the run (see run.resolveUnanswered).
	resolved bool
}

// unanswered reports whether an attempt of p has an unknown outcome: it
// got no answer at all, or a 504 (the hub sent the publish to Redis and
// lost the answer: sse.ErrOutcomeUnknown) or a 502 (a proxy lost the hub).
func (p *publishLog) unanswered() bool {
	for _, a := range p.attempts {
		if a.err != "" && (a.status == 0 || a.status == http.StatusGatewayTimeout || a.status == http.StatusBadGateway) {
			return true
		}
	}
	return false
}

// started is when the first attempt started.
func (p *publishLog) started() time.Time {
	if len(p.attempts) == 0 {
		return time.Time{}
	}
	return p.attempts[0].start
}

// answered is when the final attempt ended.
func (p *publishLog) answered() time.Time {
	if len(p.attempts) == 0 {
		return time.Time{}
	}
	return p.attempts[len(p.attempts)-1].end
}

// publishBook holds the publish logs by key, safe for concurrent use.
type publishBook struct {
	mu   sync.Mutex
	logs map[string]*publishLog
	seq  []*publishLog // in the order the publishes finished
}

func newPublishBook() *publishBook {
	return &publishBook{logs: map[string]*publishLog{}}
}

// add stores a finished publish.
func (b *publishBook) add(p *publishLog) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs[p.key] = p
	b.seq = append(b.seq, p)
}

// snapshot returns the publishes finished so far. The
// logs are complete when added, so they are shared, not copied.
func (b *publishBook) snapshot() []*publishLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*publishLog(nil), b.seq...)
}

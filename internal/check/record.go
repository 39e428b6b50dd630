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
	// What the hub said: the topic, why and the evidence (sse.Resync);
	// reason is "" from a hub that says nothing.
	topic, reason, oldest, genesis string
	// conn is the connection it came on; first that no event came before
	// it on that connection (a hub sends resyncs before the backlog).
	conn  int
	first bool
	// from is the position the connection resumed from: the id the
	// client sent as Last-Event-ID ("" for none).
	from string
}

// connection is one successful connection of a stream.
type connection struct {
	at   time.Time
	from string // the position it resumed from: the stream's last id then
	// resynced lists the topics a resync on it named.
	resynced []string
	events   int // deliveries on it
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
	connInfo   []connection // one per connection, in order
	pos        string       // the last id the stream received (event or resync): where the client resumes
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
	s.connInfo = append(s.connInfo, connection{at: at, from: s.pos})
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
	if d.id != "" {
		s.pos = d.id
	}
	if c := s.current(); c != nil {
		c.events++
	}
}

// current returns the stream's current connection; nil before the first.
// s.mu is held.
func (s *streamLog) current() *connection {
	if len(s.connInfo) == 0 {
		return nil
	}
	return &s.connInfo[len(s.connInfo)-1]
}

// resynced records a resync notice, with the id it carried.
func (s *streamLog) resynced(rs resync, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs.lastID = make(map[string]string, len(s.lastID))
	for k, v := range s.lastID {
		rs.lastID[k] = v
	}
	rs.conn = s.conns
	if c := s.current(); c != nil {
		rs.first, rs.from = c.events == 0, c.from
		c.resynced = append(c.resynced, rs.topics...)
	}
	s.resyncs = append(s.resyncs, rs)
	if id != "" {
		s.pos = id
	}
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
		opened: s.opened, conns: s.conns, err: s.err, pos: s.pos,
		connInfo:   cloneConns(s.connInfo),
		deliveries: append([]delivery(nil), s.deliveries...),
		resyncs:    append([]resync(nil), s.resyncs...),
	}
}

// cloneConns copies cs deeply enough to read without the lock.
func cloneConns(cs []connection) []connection {
	out := make([]connection, len(cs))
	for i, c := range cs {
		c.resynced = append([]string(nil), c.resynced...)
		out[i] = c
	}
	return out
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

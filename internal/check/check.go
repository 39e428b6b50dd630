package check

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ssevents/ssevents/client"
)

// Defaults for the zero fields of Config, and the bounds of a run.
const (
	// DefaultStreams is how many reconnecting subscribers a run opens.
	DefaultStreams = 10
	// DefaultTopics is how many topics a run publishes on.
	DefaultTopics = 4
	// DefaultRate is the publishes per second, over all publishers.
	DefaultRate = 50
	// DefaultDuration is how long a run publishes.
	DefaultDuration = 10 * time.Second
	// DefaultDrain is the longest wait for deliveries after the last
	// publish answer.
	DefaultDrain = 10 * time.Second
	// DefaultHistorySize is the hub's per-topic history size, as
	// sse.DefaultHistorySize.
	DefaultHistorySize = 100
	// DefaultHistoryAge is the hub's history age, as sse.DefaultHistoryAge.
	DefaultHistoryAge = 5 * time.Minute
	// DefaultPublishers is how many publishes may be in flight at once.
	DefaultPublishers = 4
	// DefaultConnectTimeout bounds the wait for the streams to open before
	// publishing starts.
	DefaultConnectTimeout = 10 * time.Second
	// MaxStreams, MaxRate and MaxDuration bound a run: the checker keeps
	// every delivery in memory.
	MaxStreams  = 10_000
	MaxRate     = 10_000
	MaxDuration = time.Hour
	// topicsPerStream is how many topics each stream subscribes to: two,
	// so that multi-topic streams (one Last-Event-ID for several topics)
	// are exercised.
	topicsPerStream = 2
	// publishTimeout bounds one publish, its retries included.
	publishTimeout = 10 * time.Second
	// PublishRetries is how many times a publish is sent again, with its
	// idempotency key, after a 502, 503, 504 or no answer: enough to ride
	// out a hub restart of a few seconds with the backoff below.
	PublishRetries = 8
	// pollInterval is how often the drain looks for missing deliveries.
	pollInterval = 50 * time.Millisecond
)

// ErrInvalidConfig: a Config field is out of range.
var ErrInvalidConfig = errors.New("ssevents: invalid check configuration")

// Config describes a checker run. Every zero field means the default named
// in its comment; only URLs is required.
type Config struct {
	// URLs are the hub base URLs (e.g. "http://localhost:8000"); streams
	// and publishes are spread round-robin over them.
	URLs []string
	// Token is an optional bearer token, for subscribing and publishing.
	Token string
	// CAFile is a PEM file of CA certificates trusted, besides the
	// system's, for an https:// URL (a private CA). Default: none.
	CAFile string
	// Streams is how many reconnecting subscribers to open. Default
	// DefaultStreams (10). Stream i subscribes to topics i mod Topics and
	// (i+1) mod Topics (one topic when Topics is 1).
	Streams int
	// Topics is how many topics ("check-<runid>-<i>") to publish on,
	// round-robin. Default DefaultTopics (4).
	Topics int
	// Rate is the publishes per second, in total. Default DefaultRate (50).
	Rate int
	// Duration is how long to publish: Rate x Duration events, each due at
	// its place in Duration. Events a slow hub or machine delays are sent
	// late, up to Drain past Duration, and then not at all. Default
	// DefaultDuration (10 s).
	Duration time.Duration
	// Drain is the longest wait, after the last publish answer, for the
	// deliveries owed; the run ends sooner once all have arrived. Default
	// DefaultDrain (10 s).
	Drain time.Duration
	// HistorySize is the hub's per-topic history size, to judge resyncs.
	// Default DefaultHistorySize (100).
	HistorySize int
	// HistoryAge is how long the hub keeps events for resume, to judge
	// resyncs. Default DefaultHistoryAge (5 minutes).
	HistoryAge time.Duration
	// Publishers is how many publishes may be in flight. Default
	// DefaultPublishers (4).
	Publishers int
	// ConnectTimeout bounds the wait for the streams to open before
	// publishing. Default DefaultConnectTimeout (10 s).
	ConnectTimeout time.Duration
	// Logger receives progress and stream errors. Default: discarded.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Streams, DefaultStreams)
	set(&c.Topics, DefaultTopics)
	set(&c.Rate, DefaultRate)
	set(&c.HistorySize, DefaultHistorySize)
	set(&c.Publishers, DefaultPublishers)
	setD(&c.Duration, DefaultDuration)
	setD(&c.Drain, DefaultDrain)
	setD(&c.ConnectTimeout, DefaultConnectTimeout)
	setD(&c.HistoryAge, DefaultHistoryAge)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate checks the bounds of c, after defaults.
func (c Config) validate() error {
	switch {
	case len(c.URLs) == 0:
		return fmt.Errorf("%w: no hub URL", ErrInvalidConfig)
	case c.Streams < 1 || c.Streams > MaxStreams:
		return fmt.Errorf("%w: streams must be 1 to %d", ErrInvalidConfig, MaxStreams)
	case c.Topics < 1 || c.Topics > c.Streams*topicsPerStream:
		return fmt.Errorf("%w: topics must be 1 to %d (2 per stream)", ErrInvalidConfig, c.Streams*topicsPerStream)
	case c.Rate < 1 || c.Rate > MaxRate:
		return fmt.Errorf("%w: rate must be 1 to %d a second", ErrInvalidConfig, MaxRate)
	case c.Duration < 0 || c.Duration > MaxDuration || c.Drain < 0 || c.ConnectTimeout < 0:
		return fmt.Errorf("%w: duration must be up to %v, drain and connect timeout not negative", ErrInvalidConfig, MaxDuration)
	case c.HistorySize < 1 || c.Publishers < 1 || c.HistoryAge < 0:
		return fmt.Errorf("%w: history size and publishers must be positive, history age not negative", ErrInvalidConfig)
	}
	return nil
}

// run is the state of one Run.
type run struct {
	cfg     Config
	id      string
	topics  []string
	subs    []*client.Client // per URL, for streams
	pubs    []*client.Client // per URL, for publishes
	streams []*streamLog
	book    *publishBook
}

// Run checks the hubs of cfg: it opens the streams, waits (at most
// ConnectTimeout) for them to connect, publishes for Duration, waits for
// the deliveries (at most Drain), stops everything it started, and judges
// the history. It returns an error when the configuration is invalid, no
// stream could connect, or ctx ended (with the report of what was
// recorded until then). A report with violations is not an error: see
// Report.OK.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	r, closeAll, err := newRun(cfg)
	if err != nil {
		return Report{}, err
	}
	defer closeAll()

	sctx, stopStreams := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range r.streams {
		wg.Go(func() { r.subscribe(sctx, s) })
	}
	stop := func() []streamLog {
		stopStreams()
		wg.Wait()
		out := make([]streamLog, len(r.streams))
		for i, s := range r.streams {
			out[i] = s.snapshot()
		}
		return out
	}
	if err := r.waitOpen(ctx); err != nil {
		stop()
		return Report{}, err
	}
	cfg.Logger.Info("check: publishing", "run", r.id, "rate", cfg.Rate, "duration", cfg.Duration)
	r.publishAll(ctx)
	r.resolveUnanswered(ctx)
	r.drain(ctx)
	rep := judge(stop(), r.book.snapshot(), historyBounds{size: cfg.HistorySize, age: cfg.HistoryAge})
	rep.RunID = r.id
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("ssevents: check interrupted: %w", err)
	}
	return rep, nil
}

// newRun makes the clients and stream logs of a run, and returns a
// function that closes the clients' idle connections.
func newRun(cfg Config) (*run, func(), error) {
	r := &run{cfg: cfg, id: strconv.FormatInt(time.Now().UnixNano(), 36), book: newPublishBook()}
	for i := range cfg.Topics {
		r.topics = append(r.topics, fmt.Sprintf("check-%s-%d", r.id, i))
	}
	// One transport for the streams, one for the publishes, so that
	// publishes never wait behind a stream's connection.
	subT, pubT := &http.Transport{}, &http.Transport{MaxIdleConnsPerHost: cfg.Publishers}
	if cfg.CAFile != "" {
		pool, err := client.CAPool(cfg.CAFile)
		if err != nil {
			return nil, nil, err
		}
		subT.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		pubT.TLSClientConfig = subT.TLSClientConfig
	}
	closeAll := func() { subT.CloseIdleConnections(); pubT.CloseIdleConnections() }
	for _, u := range cfg.URLs {
		sc, err := client.New(client.Config{URL: u, Token: cfg.Token, HTTPClient: &http.Client{Transport: subT},
			BackoffInitial: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		pc, _ := client.New(client.Config{URL: u, Token: cfg.Token, HTTPClient: &http.Client{Transport: pubT},
			BackoffInitial: 50 * time.Millisecond, BackoffMax: time.Second, PublishRetries: PublishRetries})
		r.subs, r.pubs = append(r.subs, sc), append(r.pubs, pc)
	}
	for i := range cfg.Streams {
		topics := []string{r.topics[i%cfg.Topics]}
		if cfg.Topics > 1 {
			topics = append(topics, r.topics[(i+1)%cfg.Topics])
		}
		r.streams = append(r.streams, newStreamLog(i, cfg.URLs[i%len(cfg.URLs)], topics))
	}
	return r, closeAll, nil
}

// waitOpen waits until every stream has connected, or ConnectTimeout has
// passed with at least one connected.
func (r *run) waitOpen(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.ConnectTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		open := 0
		var lastErr error
		for _, s := range r.streams {
			if s.isOpen() {
				open++
			} else if e := s.snapshot().err; e != nil {
				lastErr = e
			}
		}
		switch {
		case open == len(r.streams):
			return nil
		case time.Now().After(deadline) && open > 0:
			r.cfg.Logger.Warn("check: not every stream connected", "open", open, "streams", len(r.streams))
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("ssevents: check: no stream connected within %v: %v", r.cfg.ConnectTimeout, lastErr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// drain waits until no stream misses an acknowledged event, or Drain has
// passed.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		acked := ackedByTopic(r.book.snapshot())
		missing := 0
		for _, s := range r.streams {
			snap := s.snapshot()
			var rep Report
			judgeLost(&rep, &snap, acked)
			missing += rep.Lost
		}
		if missing == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ackedByTopic groups the acknowledged publishes by topic.
func ackedByTopic(pubs []*publishLog) map[string][]*publishLog {
	m := map[string][]*publishLog{}
	for _, p := range pubs {
		if p.acked {
			m[p.topic] = append(m[p.topic], p)
		}
	}
	return m
}

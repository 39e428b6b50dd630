package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/client"
)

// Defaults of WorkerConfig.
const (
	// DefaultConnectConcurrency is how many connections a worker opens at a
	// time: enough to open thousands a second, few enough not to overflow
	// the server's accept backlog (often 4096) with SYNs.
	DefaultConnectConcurrency = 200
	// DefaultConnectTimeout bounds a worker's connect phase; subscriptions
	// not open by then are abandoned and reported as failed.
	DefaultConnectTimeout = 60 * time.Second
)

// WorkerConfig is the share of a run one worker does.
type WorkerConfig struct {
	// URL of the hub and Token for it.
	URL   string `json:"url"`
	Token string `json:"token,omitempty"`
	// CAFile: see Config.CAFile.
	CAFile string `json:"ca_file,omitempty"`
	// URLs, when set, replaces URL: subscription i connects to
	// URLs[(FirstConn+i) % len(URLs)].
	URLs []string `json:"urls,omitempty"`
	// Conns is the number of subscriptions to open.
	Conns int `json:"conns"`
	// FirstConn is the run-wide index of the worker's first subscription;
	// subscription i follows Topics[(FirstConn+i) % len(Topics)].
	FirstConn int `json:"first_conn"`
	// Topics are the run's topics.
	Topics []string `json:"topics"`
	// BigTopic, when set, is the topic of the subscriptions whose run-wide
	// index is BigFrom or more, instead of Topics; no event goes there.
	BigTopic string `json:"big_topic,omitempty"`
	BigFrom  int    `json:"big_from,omitempty"`
	// Users, when set, gives each subscription its user's token instead
	// of Token (see Users).
	Users *Users `json:"users,omitempty"`
	// Events is the number of events the run plans to publish: event i
	// goes to topic i % len(Topics) with seq i / len(Topics) + 1.
	Events int `json:"events"`
	// ConnectConcurrency: default DefaultConnectConcurrency.
	ConnectConcurrency int `json:"connect_concurrency,omitempty"`
	// ConnectTimeout: default DefaultConnectTimeout.
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// LocalIPs, when set, are the source addresses of the connections:
	// subscription i (run-wide index j = FirstConn+i) dials from
	// LocalIPs[(j / len(URLs)) % len(LocalIPs)], so that every source
	// address carries its share of every URL's streams, each source with
	// its own range of ephemeral ports.
	LocalIPs []string `json:"local_ips,omitempty"`
}

// Progress is a worker's running count.
type Progress struct {
	// Connected is the number of subscriptions open at the end of the
	// connect phase; Failed those that were not.
	Connected int `json:"connected"`
	Failed    int `json:"failed"`
	// Received counts benchmark events received, each once per
	// subscription; Duplicates those received again.
	Received   uint64 `json:"received"`
	Duplicates uint64 `json:"duplicates"`
	// Reconnects counts connections made again after one was lost.
	Reconnects uint64 `json:"reconnects"`
	// Open is the number of subscriptions connected now (Connected, once
	// Ready, is those open at the end of the connect phase).
	Open int `json:"open"`
	// Ready is true once the connect phase is over.
	Ready bool `json:"ready"`
	// LastError is the last connection error seen, if any.
	LastError string `json:"last_error,omitempty"`
	// LatencyP99Ms is the delivery latency p99 so far.
	LatencyP99Ms float64 `json:"latency_p99_ms,omitempty"`
	// LastConnect is when the latest subscription first connected, in
	// Unix nanoseconds (0: none yet).
	LastConnect int64 `json:"last_connect,omitempty"`
}

// WorkerResult is what a worker reports when stopped.
type WorkerResult struct {
	Progress
	// ConnectedPerTopic counts the open subscriptions of each topic at the
	// end of the connect phase, for the expected deliveries.
	ConnectedPerTopic []int `json:"connected_per_topic"`
	// ConnectedPerURL counts them for each of the run's URLs.
	ConnectedPerURL []int `json:"connected_per_url,omitempty"`
	// Delivered counts, for each event of the run, the subscriptions that
	// received it, so that the parent can tell lost deliveries apart and
	// settle publishes whose answer it did not get. Trailing zeros are
	// left out (with Rate 0 most planned events are never sent).
	Delivered []uint32 `json:"delivered"`
	// Latency and ConnectTime are histograms in Histogram.Sparse form.
	Latency     [][2]uint64 `json:"latency"`
	ConnectTime [][2]uint64 `json:"connect_time"`
	// LatencyBySecond is Latency split by the second of receipt, for the
	// report's time series.
	LatencyBySecond []SecondHistogram `json:"latency_by_second,omitempty"`
	// ConnectWall is how long the connect phase took.
	ConnectWall time.Duration `json:"connect_wall"`
}

// Worker holds a share of a run's subscriptions in this process.
type Worker struct {
	cfg     WorkerConfig
	cs      [][]*client.Client // [url][source address]
	hcs     []*http.Client     // one per source address
	latency Histogram
	connect Histogram
	// latencyBySecond is latency by second of receipt.
	latencyBySecond perSecond

	opened, connected, failed, reconnects atomic.Int64
	open                                  atomic.Int64 // connected now
	lastConnect                           atomic.Int64 // Unix ns of the latest first connection
	received, duplicates                  atomic.Uint64
	delivered                             []atomic.Uint32 // per event of the run
	lastError                             atomic.Value    // string: the last connection error

	ready       chan struct{}
	perTopic    []int
	perURL      []int
	connectWall time.Duration

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartWorker opens cfg.Conns subscriptions in the background; Ready is
// closed when they are open or the connect phase timed out.
func StartWorker(ctx context.Context, cfg WorkerConfig) (*Worker, error) {
	if cfg.ConnectConcurrency <= 0 {
		cfg.ConnectConcurrency = DefaultConnectConcurrency
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if len(cfg.URLs) == 0 {
		cfg.URLs = []string{cfg.URL}
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("bench worker: no topics")
	}
	w := &Worker{cfg: cfg, ready: make(chan struct{}), delivered: make([]atomic.Uint32, max(cfg.Events, 0))}
	sources := cfg.LocalIPs
	if len(sources) == 0 {
		sources = []string{""} // the system's choice
	}
	tlsConfig, err := caTLS(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	for _, src := range sources {
		dialer := &net.Dialer{Timeout: 10 * time.Second}
		if src != "" {
			ip := net.ParseIP(src)
			if ip == nil {
				return nil, fmt.Errorf("bench worker: bad source address %q", src)
			}
			dialer.LocalAddr = &net.TCPAddr{IP: ip}
		}
		w.hcs = append(w.hcs, &http.Client{Transport: &http.Transport{
			DialContext:        dialer.DialContext,
			DisableCompression: true,
			MaxIdleConns:       -1, // a stream's connection is never reused
			TLSClientConfig:    tlsConfig,
		}})
	}
	ccfg := client.Config{Token: cfg.Token}
	if cfg.Users != nil && cfg.Users.Count > 0 {
		ccfg = client.Config{TokenFunc: newUserTokens(*cfg.Users, time.Now()).tokenFunc}
	}
	for _, u := range cfg.URLs {
		var row []*client.Client
		for _, hc := range w.hcs {
			ccfg.URL, ccfg.HTTPClient = u, hc
			c, err := client.New(ccfg)
			if err != nil {
				return nil, err
			}
			row = append(row, c)
		}
		w.cs = append(w.cs, row)
	}
	ctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx)
	}()
	return w, nil
}

// run opens the subscriptions, at most ConnectConcurrency at a time, and
// abandons those not open when the connect phase times out.
func (w *Worker) run(ctx context.Context) {
	start := time.Now()
	phase, endPhase := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
	defer endPhase()
	slots := make(chan struct{}, w.cfg.ConnectConcurrency)
	subs := make([]*benchSub, w.cfg.Conns)
	for i := range subs {
		select {
		case slots <- struct{}{}:
		case <-phase.Done():
		}
		if phase.Err() != nil {
			break
		}
		j := w.cfg.FirstConn + i
		topic, url := j%len(w.cfg.Topics), j%len(w.cs)
		s := &benchSub{w: w, topic: topic, url: url, c: w.cs[url][(j/len(w.cs))%len(w.hcs)],
			big: w.cfg.BigTopic != "" && j >= w.cfg.BigFrom,
			up:  make(chan struct{}), done: make(chan struct{})}
		subs[i] = s
		var sctx context.Context
		sctx, s.cancel = context.WithCancel(context.WithValue(ctx, streamKey{}, j))
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			s.run(sctx, time.Now(), slots)
		}()
	}
	w.perTopic = make([]int, len(w.cfg.Topics))
	w.perURL = make([]int, len(w.cs))
	for _, s := range subs {
		if s == nil {
			w.failed.Add(1)
			continue
		}
		select {
		case <-s.up:
			if !s.big {
				w.perTopic[s.topic]++
			}
			w.perURL[s.url]++
			w.connected.Add(1)
		case <-s.done: // refused (a 401, say): it will not connect
			w.failed.Add(1)
		case <-phase.Done():
			s.cancel() // too late: it would receive events it was not counted for
			w.failed.Add(1)
		}
	}
	w.connectWall = time.Since(start)
	close(w.ready)
}

// Ready is closed when the connect phase is over.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// Progress returns the worker's counts so far.
func (w *Worker) Progress() Progress {
	p := Progress{
		Connected:   int(w.opened.Load()),
		Failed:      int(w.failed.Load()),
		Received:    w.received.Load(),
		Duplicates:  w.duplicates.Load(),
		Reconnects:  uint64(w.reconnects.Load()),
		Open:        int(w.open.Load()),
		LastConnect: w.lastConnect.Load(),
	}
	if w.received.Load() > 0 {
		p.LatencyP99Ms = ms(w.latency.Quantile(0.99))
	}
	p.LastError, _ = w.lastError.Load().(string)
	select {
	case <-w.ready:
		p.Ready = true
		p.Connected = int(w.connected.Load())
	default:
	}
	return p
}

// Stop closes every subscription, waits for them, and returns the results.
func (w *Worker) Stop() (WorkerResult, error) {
	w.cancel()
	w.wg.Wait()
	for _, hc := range w.hcs {
		hc.CloseIdleConnections()
	}
	n := len(w.delivered)
	for n > 0 && w.delivered[n-1].Load() == 0 {
		n--
	}
	delivered := make([]uint32, n)
	for i := range delivered {
		delivered[i] = w.delivered[i].Load()
	}
	return WorkerResult{
		Delivered:         delivered,
		Progress:          w.Progress(),
		ConnectedPerTopic: w.perTopic,
		ConnectedPerURL:   w.perURL,
		Latency:           w.latency.Sparse(),
		LatencyBySecond:   w.latencyBySecond.Sparse(),
		ConnectTime:       w.connect.Sparse(),
		ConnectWall:       w.connectWall,
	}, nil
}

// benchSub is one subscription of a worker.
type benchSub struct {
	w      *Worker
	c      *client.Client // of its URL and source address
	topic  int            // index in the run's topics
	big    bool           // on the big topic instead
	url    int            // index in the run's URLs
	up     chan struct{}  // closed on the first connection
	done   chan struct{}  // closed when the subscription ended
	cancel context.CancelFunc
	seen   seenWindow
}

func (s *benchSub) run(ctx context.Context, start time.Time, slots <-chan struct{}) {
	released := false
	release := func() {
		if !released {
			released = true
			<-slots
		}
	}
	defer release()
	defer close(s.done)
	opened, up := false, false
	topic := s.w.cfg.Topics[s.topic]
	if s.big {
		topic = s.w.cfg.BigTopic
	}
	err := s.c.Subscribe(ctx, []string{topic}, s.handle, client.OnConnState(func(cs client.ConnState) {
		if cs.Connected != up {
			up = cs.Connected
			if up {
				s.w.open.Add(1)
			} else {
				s.w.open.Add(-1)
			}
		}
		switch {
		case cs.Connected && !opened:
			opened = true
			s.w.opened.Add(1)
			now := time.Now().UnixNano()
			for last := s.w.lastConnect.Load(); now > last && !s.w.lastConnect.CompareAndSwap(last, now); last = s.w.lastConnect.Load() {
			}
			s.w.connect.Record(time.Since(start))
			close(s.up)
			release()
		case cs.Connected:
			s.w.reconnects.Add(1)
		default:
			if cs.Err != nil && !errors.Is(cs.Err, context.Canceled) {
				s.w.lastError.Store(cs.Err.Error())
			}
			release() // retrying: let others connect meanwhile
		}
	}))
	if err != nil && !errors.Is(err, context.Canceled) {
		s.w.lastError.Store(err.Error())
	}
}

func (s *benchSub) handle(ev client.Event) error {
	now := time.Now()
	seq, ts, ok := parsePayload(ev.Data)
	if !ok || s.big {
		return nil // not a benchmark event
	}
	if s.seen.add(seq) {
		s.w.duplicates.Add(1)
		return nil
	}
	s.w.received.Add(1)
	if i := (seq-1)*uint64(len(s.w.cfg.Topics)) + uint64(s.topic); i < uint64(len(s.w.delivered)) {
		s.w.delivered[i].Add(1)
	}
	d := now.Sub(time.Unix(0, ts))
	s.w.latency.Record(d)
	s.w.latencyBySecond.Record(now, d)
	return nil
}

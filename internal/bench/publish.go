package bench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/internal/pace"
)

// publishing publishes the run's events at a fixed rate, or back to back
// when the rate is 0.
type publishing struct {
	cfg    Config
	topics []string
	cs     []*client.Client // one per URL: event i goes to cs[i % len(cs)]
	hc     *http.Client
	start  time.Time
	end    time.Time // when the last publish was answered
	total  int

	sent      atomic.Int64
	sentTo    []atomic.Int64 // per topic: sent, answered or not yet
	refusedBy []atomic.Int64 // per topic: refused with an error answer, never published
	errs      atomic.Int64
	answered  Histogram      // time to a POST /publish answer, of the accepted ones
	lastError atomic.Value   // string
	status    []atomic.Int32 // per event: notSent, sentOK, refused or unknown

	// seriesStart is the start of the run's series: the second of the
	// wall clock the run started in. perSecond counts the accepted
	// publishes of each second from it.
	seriesStart time.Time
	perSecond   []atomic.Int64
}

func newPublishing(cfg Config, topics []string) *publishing {
	tlsConfig, _ := caTLS(cfg.CAFile) // checked by Run
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.publishers(), DisableCompression: true, TLSClientConfig: tlsConfig}}
	var cs []*client.Client
	for _, u := range cfg.urls() {
		c, _ := client.New(client.Config{URL: u, Token: cfg.Token, HTTPClient: hc}) // URL checked by Run
		cs = append(cs, c)
	}
	return &publishing{cfg: cfg, topics: topics, cs: cs, hc: hc, total: cfg.events(),
		sentTo: make([]atomic.Int64, len(topics)), refusedBy: make([]atomic.Int64, len(topics)),
		seriesStart: time.Now().Truncate(time.Second), perSecond: make([]atomic.Int64, maxSeriesSeconds), status: make([]atomic.Int32, cfg.events())}
}

// The status of one event's publish.
const (
	notSent = iota
	sentOK
	// refused: the hub answered with an error, so it did not publish.
	refused
	// unknown: no answer (a timeout, a broken connection); the event may
	// have been published, which the deliveries tell.
	unknown
)

// run publishes event i at start + i/Rate: a schedule, so that a slow
// request delays the events behind it only until a publisher is free. With
// Rate 0 there is no schedule: each publisher publishes back to back, until
// Duration passed or the run's total (MaxEvents) was sent. It stops at
// start + Duration whatever is left (a saturated hub cannot take the rate;
// the report shows how many were sent), and lets requests in flight then
// finish for at most publishGrace.
func (p *publishing) run(ctx context.Context) {
	defer p.hc.CloseIdleConnections()
	defer func() { p.end = time.Now() }()
	p.start = time.Now()
	end := p.start.Add(p.cfg.Duration)
	schedule, stopSchedule := context.WithDeadline(ctx, end)
	defer stopSchedule()
	inflight, stopInflight := context.WithDeadline(ctx, end.Add(publishGrace))
	defer stopInflight()

	jobs := make(chan int, p.cfg.publishers())
	var wg sync.WaitGroup
	for range p.cfg.publishers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p.publish(inflight, i)
			}
		}()
	}
	var interval time.Duration // Rate 0: as fast as the publishers take them
	if p.cfg.Rate > 0 {
		interval = time.Second / time.Duration(p.cfg.Rate)
	}
	pace.Schedule(schedule, p.start, interval, p.total, jobs)
	wg.Wait()
}

func (p *publishing) publish(ctx context.Context, i int) {
	topic := i % len(p.topics)
	seq := uint64(i/len(p.topics)) + 1 // per topic, from 1
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	p.sentTo[topic].Add(1)
	p.sent.Add(1)
	start := time.Now()
	if _, err := p.cs[i%len(p.cs)].Publish(ctx, p.topics[topic], "bench", json.RawMessage(payload(seq, start))); err != nil {
		p.errs.Add(1)
		p.lastError.Store(err.Error())
		var se *client.StatusError
		if errors.As(err, &se) {
			p.status[i].Store(refused)
			p.refusedBy[topic].Add(1)
		} else {
			p.status[i].Store(unknown)
		}
		return
	}
	p.answered.Record(time.Since(start))
	p.status[i].Store(sentOK)
	if sec := int(time.Since(p.seriesStart) / time.Second); sec >= 0 && sec < len(p.perSecond) {
		p.perSecond[sec].Add(1)
	}
}

// limited reports whether publishing stopped because the run's total was
// sent before Duration ended: with Rate 0, that is MaxEvents.
func (p *publishing) limited() bool {
	return p.cfg.Rate == 0 && p.sent.Load() >= int64(p.total) && p.end.Before(p.start.Add(p.cfg.Duration))
}

// notSentReason says why n planned events were never sent, with a Rate
// ("" when all were, or with Rate 0, which plans no count). Schedule hands
// event i to a free publisher at start + i/Rate; when every publisher
// waits for an answer, the events behind wait too, and those still
// waiting when Duration ends are not sent.
func (p *publishing) notSentReason(n int64) string {
	switch {
	case n == 0 || p.cfg.Rate == 0:
		return ""
	case p.end.Before(p.start.Add(p.cfg.Duration)):
		return "publishing was interrupted before --duration ended"
	}
	return fmt.Sprintf("when --duration ended they were still waiting for one of the %d publishers, all busy waiting for answers (p99 %.1f ms): the hub did not keep up with --rate %d; raise --publishers or lower --rate",
		p.cfg.publishers(), ms(p.answered.Quantile(0.99)), p.cfg.Rate)
}

// owed returns the events of topic k that may be delivered: those sent
// and not refused, whether accepted, unanswered or still in flight (a
// delivery can arrive before its publish's answer), so that the
// deliveries received never exceed what they owe.
func (p *publishing) owed(k int) int64 {
	return p.sentTo[k].Load() - p.refusedBy[k].Load()
}

// expectedSoFar is the deliveries the events sent so far owe (see owed):
// unanswered publishes count as published, so that the drain waits for
// them too. It is exact when every subscription opened (subscription i
// follows topic i % Topics); otherwise it assumes the open ones spread
// evenly over the topics. The workers' results give the exact count at
// the end.
func (p *publishing) expectedSoFar(workers []WorkerHandle) uint64 {
	conns, failed := 0, 0
	for _, w := range workers {
		pr := w.Progress()
		conns, failed = conns+pr.Connected, failed+pr.Failed
	}
	if failed == 0 {
		perTopic := make([]int, len(p.topics))
		for k := range perTopic {
			perTopic[k] = p.cfg.topicConns() / len(p.topics)
			if k < p.cfg.topicConns()%len(p.topics) {
				perTopic[k]++
			}
		}
		var n uint64
		for k := range p.sentTo {
			n += uint64(p.owed(k)) * uint64(perTopic[k])
		}
		return n
	}
	var owed int64
	for k := range p.sentTo {
		owed += p.owed(k)
	}
	conns = max(conns-p.cfg.BigTopic, 0) // about: the big topic's may have failed too
	return uint64(owed) * uint64(conns) / uint64(len(p.topics))
}

// caTLS returns the TLS configuration that trusts the CA certificates of
// the PEM file besides the system's, or nil (the default) without a file.
func caTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pool, err := client.CAPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("bench: --cacert: %w", err)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

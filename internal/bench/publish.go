package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/internal/pace"
)

// publishing publishes the run's events at a fixed rate.
type publishing struct {
	cfg    Config
	topics []string
	c      *client.Client
	hc     *http.Client
	start  time.Time
	total  int

	sent      atomic.Int64
	ok        []atomic.Int64 // per topic, for the progress line and drain
	maybe     []atomic.Int64 // per topic: unanswered, perhaps published
	errs      atomic.Int64
	answered  Histogram      // time to a POST /publish answer, of the accepted ones
	lastError atomic.Value   // string
	status    []atomic.Int32 // per event: notSent, sentOK, refused or unknown
}

func newPublishing(cfg Config, topics []string) *publishing {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: publishers, DisableCompression: true}}
	c, _ := client.New(client.Config{URL: cfg.URL, Token: cfg.Token, HTTPClient: hc}) // URL checked by Run
	total := int(int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second))
	total = max(total, 1)
	return &publishing{cfg: cfg, topics: topics, c: c, hc: hc, total: total,
		ok: make([]atomic.Int64, len(topics)), maybe: make([]atomic.Int64, len(topics)), status: make([]atomic.Int32, total)}
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
// request delays the events behind it only until a publisher is free. It
// stops at start + Duration whatever is left (a saturated hub cannot take
// the rate; the report shows how many were sent), and lets requests in
// flight then finish for at most publishGrace.
func (p *publishing) run(ctx context.Context) {
	defer p.hc.CloseIdleConnections()
	p.start = time.Now()
	end := p.start.Add(p.cfg.Duration)
	schedule, stopSchedule := context.WithDeadline(ctx, end)
	defer stopSchedule()
	inflight, stopInflight := context.WithDeadline(ctx, end.Add(publishGrace))
	defer stopInflight()

	jobs := make(chan int, publishers)
	var wg sync.WaitGroup
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				p.publish(inflight, i)
			}
		}()
	}
	interval := time.Second / time.Duration(p.cfg.Rate)
	pace.Schedule(schedule, p.start, interval, p.total, jobs)
	wg.Wait()
}

func (p *publishing) publish(ctx context.Context, i int) {
	topic := i % len(p.topics)
	seq := uint64(i/len(p.topics)) + 1 // per topic, from 1
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	p.sent.Add(1)
	start := time.Now()
	if _, err := p.c.Publish(ctx, p.topics[topic], "bench", json.RawMessage(payload(seq, start))); err != nil {
		p.errs.Add(1)
		p.lastError.Store(err.Error())
		var se *client.StatusError
		if errors.As(err, &se) {
			p.status[i].Store(refused)
		} else {
			p.status[i].Store(unknown)
			p.maybe[topic].Add(1)
		}
		return
	}
	p.answered.Record(time.Since(start))
	p.ok[topic].Add(1)
	p.status[i].Store(sentOK)
}

// expectedSoFar is the deliveries the events published so far owe, counting
// unanswered publishes as published so that the drain waits for them too.
// It is exact when every subscription opened (subscription i follows topic
// i % Topics); otherwise it assumes the open ones spread evenly over the
// topics. The workers' results give the exact count at the end.
func (p *publishing) expectedSoFar(workers []WorkerHandle) uint64 {
	conns, failed := 0, 0
	for _, w := range workers {
		pr := w.Progress()
		conns, failed = conns+pr.Connected, failed+pr.Failed
	}
	if failed == 0 {
		perTopic := make([]int, len(p.topics))
		for k := range perTopic {
			perTopic[k] = p.cfg.Conns / len(p.topics)
			if k < p.cfg.Conns%len(p.topics) {
				perTopic[k]++
			}
		}
		var n uint64
		for k := range p.ok {
			n += uint64(p.ok[k].Load()+p.maybe[k].Load()) * uint64(perTopic[k])
		}
		return n
	}
	var ok int64
	for i := range p.ok {
		ok += p.ok[i].Load() + p.maybe[i].Load()
	}
	return uint64(ok) * uint64(conns) / uint64(len(p.topics))
}

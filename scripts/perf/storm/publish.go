package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ssevents/ssevents/internal/streamid"
)

// publishWorkers is how many publishes run at once: enough to publish
// 1,000 events in well under a second on loopback, few enough that the
// publisher does not take the hub's CPU from the streams.
const publishWorkers = 32

// publishAttempts is how many times one event is sent (with the same
// Idempotency-Key) before its outcome is left as it stands.
const publishAttempts = 10

// publisher publishes the tool's events through POST /publish. Each event
// carries its identity as data ("t<topic>:<seq>") and an Idempotency-Key,
// so a retry after an unanswered attempt cannot publish it twice.
type publisher struct {
	client *http.Client
	runID  string
}

func newPublisher(runID string) *publisher {
	tr := &http.Transport{MaxIdleConnsPerHost: publishWorkers, MaxConnsPerHost: publishWorkers}
	return &publisher{client: &http.Client{Transport: tr, Timeout: 10 * time.Second}, runID: runID}
}

// round publishes n events to every topic through the hub at addr, the
// events of one topic one after the other, and appends them to pubs
// (indexed by topic). It returns how many were acknowledged.
func (p *publisher) round(ctx context.Context, addr string, pubs [][]*pub, n int) int {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for w := range publishWorkers {
		wg.Go(func() {
			for t := w; t < len(pubs); t += publishWorkers {
				for range n {
					mu.Lock()
					seq := len(pubs[t])
					e := &pub{data: fmt.Sprintf(`"t%d:%d"`, t, seq), key: fmt.Sprintf("%s-t%d-%d", p.runID, t, seq)}
					pubs[t] = append(pubs[t], e)
					mu.Unlock()
					p.publish(ctx, addr, t, e)
					if e.outcome == acked {
						mu.Lock()
						total++
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	return total
}

// publish sends e until an answer settles it: 200 (acked), an answer that
// means "not published" every time (refused), or anything else on the
// last attempt (unknown).
func (p *publisher) publish(ctx context.Context, addr string, topic int, e *pub) {
	body, _ := json.Marshal(map[string]any{"topic": topicName(topic), "event": "storm", "data": json.RawMessage(e.data)})
	notPublished := true
	for attempt := range publishAttempts {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/publish", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", e.key)
		resp, err := p.client.Do(req)
		if err != nil {
			notPublished = false
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			var ans struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(b, &ans) == nil {
				if id, err := streamid.Parse(ans.ID); err == nil {
					e.outcome, e.id, e.ackedAt = acked, id, time.Now()
					return
				}
			}
			notPublished = false
		case resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusConflict,
			resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
			// Not published (409: the same key still in flight); try again.
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if notPublished {
				e.outcome = refused
			} else {
				e.outcome = unknown
			}
			return
		default: // 502, 504 and the like: the outcome is unknown
			notPublished = false
		}
		if ctx.Err() != nil {
			break
		}
	}
	if notPublished {
		e.outcome = refused
	} else {
		e.outcome = unknown
	}
}

// topicName is the name of topic t.
func topicName(t int) string { return fmt.Sprintf("storm-%d", t) }

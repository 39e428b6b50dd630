package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// presencePollPause is the pause between two rounds of GET /presence while
// waiting for exact counts: short next to the settle times measured (a
// round of a hundred topics takes longer), long enough not to load the
// hubs that are settling.
const presencePollPause = 20 * time.Millisecond

// presenceHold is how long a run stays at least in its settled state (the
// streams open, nothing published) after presence settled: enough for a
// measure taken beside the run once a second (scripts/perf/100k.sh reads
// Redis's memory) to see it.
const presenceHold = 2 * time.Second

// PresenceReport is what a run with Config.Presence measured. Durations are
// in milliseconds, instants in Unix milliseconds.
type PresenceReport struct {
	// Topics is the number of tracked topics checked (the big one
	// included); Members the members they should count in all (a user is
	// a member of each topic it has a stream on); Streams their streams.
	Topics  int `json:"topics"`
	Members int `json:"members"`
	Streams int `json:"streams"`
	// LastConnectMs is when the last subscription connected; SettledAtMs
	// when every topic's counts had been seen exact; SettleMs the time
	// from the one to the other. Settled is false when some topic was not
	// exact within the timeout: Unsettled of them, Mismatch telling one.
	LastConnectMs int64   `json:"last_connect_unix_ms"`
	SettledAtMs   int64   `json:"settled_unix_ms,omitempty"`
	SettleMs      float64 `json:"settle_ms"`
	Settled       bool    `json:"settled"`
	Unsettled     int     `json:"unsettled,omitempty"`
	Mismatch      string  `json:"mismatch,omitempty"`
	// Polls counts the GET /presence?limit=0 made while waiting.
	Polls int `json:"polls"`
	// The timed calls: Calls sequential GET /presence?topic=CallTopic&
	// limit=Limit, round-robin over the URLs, of which CallErrors failed
	// (or listed fewer members than min(Limit, CallTopicUsers)); their
	// answer times P50Ms, P99Ms and MaxMs.
	CallTopic      string  `json:"call_topic"`
	CallTopicUsers int     `json:"call_topic_users"`
	Limit          int     `json:"limit"`
	Calls          int     `json:"calls"`
	CallErrors     int     `json:"call_errors"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	// Note says what could not be measured, and why.
	Note string `json:"note,omitempty"`
}

// presenceTopic is a topic and the counts it should reach.
type presenceTopic struct {
	name string
	want TopicCount
}

// measurePresence waits for every topic's presence to be exact, then times
// GET /presence on the big topic (topic 0 without one).
func measurePresence(ctx context.Context, cfg Config, topics []string, bigTopic string, workers []WorkerHandle) *PresenceReport {
	perTopic, big := ExpectedPresence(cfg.Conns, cfg.BigTopic, len(topics), cfg.Users.Count)
	var all []presenceTopic
	for k, name := range topics {
		all = append(all, presenceTopic{name, perTopic[k]})
	}
	if bigTopic != "" {
		all = append(all, presenceTopic{bigTopic, big})
	}
	rep := &PresenceReport{Topics: len(all), Streams: cfg.Conns, Limit: DefaultPresenceLimit,
		CallTopic: all[len(all)-1].name, CallTopicUsers: all[len(all)-1].want.Users}
	if bigTopic == "" {
		rep.CallTopic, rep.CallTopicUsers = all[0].name, all[0].want.Users
	}
	for _, t := range all {
		rep.Members += t.want.Users
	}
	connected := 0
	for _, w := range workers {
		p := w.Progress()
		connected += p.Connected
		rep.LastConnectMs = max(rep.LastConnectMs, p.LastConnect/int64(time.Millisecond))
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	var cs []*client.Client
	for _, u := range cfg.URLs {
		c, _ := client.New(client.Config{URL: u, Token: cfg.Token, HTTPClient: hc}) // URL checked by Run
		cs = append(cs, c)
	}
	if connected < cfg.Conns {
		rep.Note = fmt.Sprintf("%d of %d streams connected: the exact counts are unknown, the settle time is not measured", connected, cfg.Conns)
	} else {
		timeout := cfg.PresenceTimeout
		if timeout <= 0 {
			timeout = DefaultPresenceTimeout
		}
		if !waitExact(ctx, cs, all, timeout, rep) {
			return rep
		}
	}
	calls := cfg.PresenceCalls
	if calls == 0 {
		calls = DefaultPresenceCalls
	}
	timeCalls(ctx, cs, calls, rep)
	if rep.Settled {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(time.UnixMilli(rep.SettledAtMs).Add(presenceHold))):
		}
	}
	return rep
}

// waitExact polls the pending topics' counts (limit 0), round-robin over
// the URLs, until each was seen exact once (presence only grows towards
// the exact counts while the streams stay open) or timeout passed. It
// returns false when the hubs do not track the topics.
func waitExact(ctx context.Context, cs []*client.Client, all []presenceTopic, timeout time.Duration, rep *PresenceReport) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := all
	for len(pending) > 0 && ctx.Err() == nil {
		var left []presenceTopic
		for _, t := range pending {
			snap, err := cs[rep.Polls%len(cs)].PresenceLimit(ctx, t.name, 0)
			rep.Polls++
			if err != nil {
				rep.Mismatch = fmt.Sprintf("%s: %s", t.name, strings.TrimPrefix(err.Error(), "ssevents: "))
				if errors.Is(err, sse.ErrNotTracked) {
					rep.Note = "the hubs do not track the run's topics (start them with SSE_PRESENCE='*')"
					rep.Unsettled = len(pending)
					return false
				}
				left = append(left, t)
				continue
			}
			if snap.Users != t.want.Users || snap.Connections != t.want.Connections {
				rep.Mismatch = fmt.Sprintf("%s: users %d of %d, connections %d of %d", t.name, snap.Users, t.want.Users, snap.Connections, t.want.Connections)
				left = append(left, t)
			}
		}
		pending = left
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(presencePollPause):
		}
	}
	rep.Unsettled = len(pending)
	if len(pending) > 0 {
		return true
	}
	now := time.Now()
	rep.Settled, rep.Mismatch = true, ""
	rep.SettledAtMs = now.UnixMilli()
	if rep.LastConnectMs > 0 {
		rep.SettleMs = float64(rep.SettledAtMs - rep.LastConnectMs)
	}
	return true
}

// timeCalls times calls sequential GET /presence on the report's call
// topic, round-robin over the URLs.
func timeCalls(ctx context.Context, cs []*client.Client, calls int, rep *PresenceReport) {
	var h Histogram
	want := min(rep.Limit, rep.CallTopicUsers)
	for i := range calls {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		snap, err := cs[i%len(cs)].PresenceLimit(ctx, rep.CallTopic, rep.Limit)
		h.Record(time.Since(start))
		rep.Calls++
		if err != nil || len(snap.Members) < want {
			rep.CallErrors++
		}
	}
	rep.P50Ms, rep.P99Ms, rep.MaxMs = ms(h.Quantile(0.5)), ms(h.Quantile(0.99)), ms(h.Max())
}

// writeText adds the report's lines to a run's text report.
func (r *PresenceReport) writeText(b *strings.Builder) {
	if r == nil {
		return
	}
	fmt.Fprintf(b, "presence     %d topics, %d members, %d streams\n", r.Topics, r.Members, r.Streams)
	switch {
	case r.Settled:
		fmt.Fprintf(b, "settled      every count exact %.0f ms after the last connect (%d polls)\n", r.SettleMs, r.Polls)
	case r.Unsettled > 0:
		fmt.Fprintf(b, "unsettled    %d topics not exact at the timeout (%s)\n", r.Unsettled, r.Mismatch)
	}
	if r.Note != "" {
		fmt.Fprintf(b, "note         %s\n", r.Note)
	}
	fmt.Fprintf(b, "GET presence %d calls (limit %d) on %s, %d members: p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors\n",
		r.Calls, r.Limit, r.CallTopic, r.CallTopicUsers, r.P50Ms, r.P99Ms, r.MaxMs, r.CallErrors)
}

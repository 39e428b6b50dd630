package bench

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Report is the outcome of a run; `ssevents bench --json` prints it as one
// JSON object. Durations are in milliseconds, memory in bytes.
type Report struct {
	URL      string `json:"url"`
	Conns    int    `json:"conns"`
	Rate     int    `json:"rate"`
	Duration string `json:"duration"`
	Topics   int    `json:"topics"`
	Workers  int    `json:"workers"`
	// Publishers is how many publish requests were in flight at most.
	Publishers int `json:"publishers"`
	// URLs are the hub instances, when more than URL; ConnectedPerURL
	// counts the subscriptions open on each (always, one entry per URL).
	URLs            []string `json:"urls,omitempty"`
	ConnectedPerURL []int    `json:"connected_per_url,omitempty"`
	// SourceAddrs are the addresses the subscriptions were dialed from,
	// round-robin; none means the system's choice.
	SourceAddrs []string `json:"source_addrs,omitempty"`

	// Connected subscriptions after the connect phase; ConnectFailed did
	// not open in time.
	Connected     int `json:"connected"`
	ConnectFailed int `json:"connect_failed"`
	// ConnectWallMs is how long opening them all took (the slowest
	// worker); ConnectP50Ms etc. are per connection.
	ConnectWallMs float64 `json:"connect_wall_ms"`
	ConnectP50Ms  float64 `json:"connect_p50_ms"`
	ConnectP99Ms  float64 `json:"connect_p99_ms"`
	ConnectMaxMs  float64 `json:"connect_max_ms"`

	// Planned events (Rate x Duration; with Rate 0 the bound MaxEvents);
	// Published ones accepted by the hub (or unanswered but delivered);
	// PublishErrors refused or unanswered and never delivered; PublishRate
	// achieved, per second (with Rate 0, over the time spent publishing).
	// Fewer published than planned means the hub could not keep up.
	// MaxEventsReached: with Rate 0, publishing stopped before Duration
	// because Planned events were sent. NotSent were never sent, so that
	// Published + PublishErrors + NotSent = Planned; with a Rate,
	// NotSentReason says why some were not.
	Planned          int     `json:"planned"`
	MaxEventsReached bool    `json:"max_events_reached,omitempty"`
	Published        int64   `json:"published"`
	PublishErrors    int64   `json:"publish_errors"`
	NotSent          int64   `json:"not_sent"`
	NotSentReason    string  `json:"not_sent_reason,omitempty"`
	PublishRate      float64 `json:"publish_rate"`
	LastError        string  `json:"last_publish_error,omitempty"`
	// PublishP50Ms and PublishP99Ms: the time from sending a POST
	// /publish to its 2xx answer, retries included.
	PublishP50Ms float64 `json:"publish_p50_ms"`
	PublishP99Ms float64 `json:"publish_p99_ms"`

	// Expected deliveries (each published event times the open
	// subscriptions of its topic), Received unique ones, Lost: expected
	// deliveries that did not arrive, Duplicates, Reconnects.
	Expected   uint64 `json:"expected"`
	Received   uint64 `json:"received"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	Reconnects uint64 `json:"reconnects"`
	// DeliveriesPerSec is Received over the time from the first publish to
	// the end of the drain.
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	DrainMs          float64 `json:"drain_ms"`

	// Delivery latency: from just before the publish request to receipt.
	LatencyP50Ms  float64 `json:"latency_p50_ms"`
	LatencyP99Ms  float64 `json:"latency_p99_ms"`
	LatencyP999Ms float64 `json:"latency_p999_ms"`
	LatencyMaxMs  float64 `json:"latency_max_ms"`

	// PublishStartMs and PublishEndMs bound the publish phase, in Unix
	// milliseconds, for measures taken beside the run (the hubs' CPU at
	// steady state).
	PublishStartMs int64 `json:"publish_start_unix_ms"`
	PublishEndMs   int64 `json:"publish_end_unix_ms"`
	// Presence is what the run measured of presence (Config.Presence).
	Presence *PresenceReport `json:"presence,omitempty"`

	// The hub's process and memory (resident set) before connecting, with
	// every subscription open, and at the end; per connection is
	// (connected - before) / Connected. Zero with a note when the process
	// was not found.
	ServerPID               int    `json:"server_pid,omitempty"`
	ServerRSSBeforeBytes    int64  `json:"server_rss_before_bytes,omitempty"`
	ServerRSSConnectedBytes int64  `json:"server_rss_connected_bytes,omitempty"`
	ServerRSSEndBytes       int64  `json:"server_rss_end_bytes,omitempty"`
	ServerRSSPerConnBytes   int64  `json:"server_rss_per_conn_bytes,omitempty"`
	ServerRSSNote           string `json:"server_rss_note,omitempty"`

	Errors []string `json:"errors,omitempty"`

	// Series are the run's per-second time series, for WriteHTML; not
	// part of the JSON report.
	Series *Series `json:"-"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill merges the workers' results and the publishing counts. An event
// counts as published when the hub accepted it, or when its publish got no
// answer but some subscription received it; each published event is
// expected once by every open subscription of its topic.
func (r *Report) fill(results []WorkerResult, p *publishing, elapsed time.Duration) {
	var lat, conn Histogram
	perTopic := make([]int, r.Topics)
	r.ConnectedPerURL = make([]int, len(p.cs))
	delivered := make([]uint64, p.total)
	var wall time.Duration
	for _, res := range results {
		r.Connected += res.Connected
		r.ConnectFailed += res.Failed
		r.Received += res.Received
		r.Duplicates += res.Duplicates
		r.Reconnects += res.Reconnects
		lat.AddSparse(res.Latency)
		conn.AddSparse(res.ConnectTime)
		wall = max(wall, res.ConnectWall)
		for i, n := range res.ConnectedPerURL {
			if i < len(r.ConnectedPerURL) {
				r.ConnectedPerURL[i] += n
			}
		}
		for i, n := range res.ConnectedPerTopic {
			if i < len(perTopic) {
				perTopic[i] += n
			}
		}
		for i, n := range res.Delivered {
			if i < len(delivered) {
				delivered[i] += uint64(n)
			}
		}
	}
	r.ConnectWallMs = ms(wall)
	r.ConnectP50Ms, r.ConnectP99Ms, r.ConnectMaxMs = ms(conn.Quantile(0.5)), ms(conn.Quantile(0.99)), ms(conn.Max())
	r.Planned = p.total
	for i := range p.status {
		st := p.status[i].Load()
		switch {
		case st == sentOK || st == unknown && delivered[i] > 0:
			r.Published++
			want := uint64(perTopic[i%len(perTopic)])
			r.Expected += want
			if delivered[i] < want {
				r.Lost += want - delivered[i]
			}
		case st != notSent:
			r.PublishErrors++
		default:
			r.NotSent++
		}
	}
	r.NotSentReason = p.notSentReason(r.NotSent)
	if s, ok := p.lastError.Load().(string); ok {
		r.LastError = s
	}
	d := p.cfg.Duration.Seconds()
	if p.cfg.Rate == 0 && p.end.After(p.start) {
		d = p.end.Sub(p.start).Seconds()
	}
	if d > 0 {
		r.PublishRate = float64(r.Published) / d
	}
	r.MaxEventsReached = p.limited()
	r.PublishP50Ms, r.PublishP99Ms = ms(p.answered.Quantile(0.5)), ms(p.answered.Quantile(0.99))
	if elapsed > 0 {
		r.DeliveriesPerSec = float64(r.Received) / elapsed.Seconds()
	}
	r.LatencyP50Ms, r.LatencyP99Ms = ms(lat.Quantile(0.5)), ms(lat.Quantile(0.99))
	r.LatencyP999Ms, r.LatencyMaxMs = ms(lat.Quantile(0.999)), ms(lat.Max())
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target       %s (%d workers)\n", r.URL, r.Workers)
	for i, u := range r.URLs {
		if i < len(r.ConnectedPerURL) {
			fmt.Fprintf(&b, "instance     %s: %d open\n", u, r.ConnectedPerURL[i])
		}
	}
	if len(r.SourceAddrs) > 0 {
		fmt.Fprintf(&b, "sources      %d addresses (%s .. %s)\n", len(r.SourceAddrs), r.SourceAddrs[0], r.SourceAddrs[len(r.SourceAddrs)-1])
	}
	rate := fmt.Sprintf("%d events/s", r.Rate)
	if r.Rate == 0 {
		rate = "events as fast as possible"
	}
	fmt.Fprintf(&b, "load         %d conns, %d topics, %s for %s, %d publishers\n", r.Conns, r.Topics, rate, r.Duration, r.Publishers)
	fmt.Fprintf(&b, "connect      %d open, %d failed in %.0f ms (per conn p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
		r.Connected, r.ConnectFailed, r.ConnectWallMs, r.ConnectP50Ms, r.ConnectP99Ms, r.ConnectMaxMs)
	notSent := ""
	if r.Rate > 0 {
		notSent = fmt.Sprintf(", %d not sent", r.NotSent)
	}
	fmt.Fprintf(&b, "published    %d of %d planned (%d errors%s), %.1f/s; answered in p50 %.2f ms, p99 %.2f ms\n",
		r.Published, r.Planned, r.PublishErrors, notSent, r.PublishRate, r.PublishP50Ms, r.PublishP99Ms)
	if r.NotSentReason != "" {
		fmt.Fprintf(&b, "not sent     %d: %s\n", r.NotSent, r.NotSentReason)
	}
	if r.MaxEventsReached {
		fmt.Fprintf(&b, "stopped      publishing at the bound of %d events, before the end of the duration\n", r.Planned)
	}
	if r.LastError != "" {
		fmt.Fprintf(&b, "last error   %s\n", r.LastError)
	}
	fmt.Fprintf(&b, "deliveries   %d of %d expected, %d lost, %d duplicates, %d reconnects, %.0f/s\n",
		r.Received, r.Expected, r.Lost, r.Duplicates, r.Reconnects, r.DeliveriesPerSec)
	fmt.Fprintf(&b, "latency      p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyP999Ms, r.LatencyMaxMs)
	r.Presence.writeText(&b)
	if r.ServerRSSPerConnBytes != 0 || r.ServerRSSConnectedBytes != 0 {
		fmt.Fprintf(&b, "server rss   pid %d: %.1f MiB before, %.1f MiB connected, %.1f MiB at end; %.1f KiB per connection\n",
			r.ServerPID, mib(r.ServerRSSBeforeBytes), mib(r.ServerRSSConnectedBytes), mib(r.ServerRSSEndBytes), float64(r.ServerRSSPerConnBytes)/1024)
	} else {
		fmt.Fprintf(&b, "server rss   unknown: %s\n", r.ServerRSSNote)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error        %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// rssProbe reads the hub's memory, when its process is known.
type rssProbe struct {
	pid  int
	note string
}

func newRSSProbe(pid int, u *url.URL) rssProbe {
	if pid > 0 {
		return rssProbe{pid: pid}
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 80
		if u.Scheme == "https" {
			port = 443
		}
	}
	pid, err = ServerPID(port)
	if err != nil {
		return rssProbe{note: err.Error() + "; pass --server-pid"}
	}
	return rssProbe{pid: pid}
}

func (p *rssProbe) read() int64 {
	if p.pid == 0 {
		return 0
	}
	n, err := RSS(p.pid)
	if err != nil {
		p.note = err.Error()
		return 0
	}
	return n
}

func (p *rssProbe) perConn(before, connected int64, conns int) int64 {
	if before == 0 || connected == 0 || conns == 0 {
		return 0
	}
	return (connected - before) / int64(conns)
}

// progressLine prints the live progress.
type progressLine struct {
	w       io.Writer
	tty     bool
	workers []WorkerHandle
	conns   int
	last    time.Time
	printed bool
}

// print prints the progress line: connections opened, events published,
// deliveries and their p99 so far (the highest of the workers' p99s, an
// upper bound of the run's). On a terminal it is redrawn in place at each
// call; elsewhere it is printed as a line at most once a second.
func (l *progressLine) print(phase string, p *publishing) {
	if l.w == nil {
		return
	}
	if !l.tty && time.Since(l.last) < time.Second {
		return
	}
	l.last = time.Now()
	var pr Progress
	for _, w := range l.workers {
		x := w.Progress()
		pr.Connected += x.Connected
		pr.Failed += x.Failed
		pr.Received += x.Received
		pr.Reconnects += x.Reconnects
		pr.LatencyP99Ms = max(pr.LatencyP99Ms, x.LatencyP99Ms)
	}
	_, _ = io.WriteString(l.w, l.format(phase, pr, p))
	l.printed = true
}

// format formats one progress line from the workers' summed progress.
func (l *progressLine) format(phase string, pr Progress, p *publishing) string {
	s := fmt.Sprintf("bench: %-7s conns %d/%d", phase, pr.Connected, l.conns)
	if pr.Failed > 0 {
		s += fmt.Sprintf(" (%d failed)", pr.Failed)
	}
	if p != nil {
		planned := fmt.Sprintf(" of %d", p.total)
		if p.cfg.Rate == 0 {
			planned = ""
		}
		s += fmt.Sprintf(" | sent %d%s (%d errors) | received %d of %d due | p99 %.1f ms | reconnects %d",
			p.sent.Load(), planned, p.errs.Load(), pr.Received, p.expectedSoFar(l.workers), pr.LatencyP99Ms, pr.Reconnects)
	}
	if l.tty {
		return "\r" + s + "\x1b[K"
	}
	return s + "\n"
}

func (l *progressLine) finish() {
	if l.w != nil && l.tty && l.printed {
		_, _ = fmt.Fprintln(l.w)
	}
}

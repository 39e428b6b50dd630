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

	// Planned events (Rate x Duration); Published ones accepted by the hub
	// (or unanswered but delivered); PublishErrors refused or unanswered
	// and never delivered; PublishRate achieved, per second. Fewer
	// published than planned means the hub could not keep up.
	Planned       int     `json:"planned"`
	Published     int64   `json:"published"`
	PublishErrors int64   `json:"publish_errors"`
	PublishRate   float64 `json:"publish_rate"`
	LastError     string  `json:"last_publish_error,omitempty"`
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
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// fill merges the workers' results and the publishing counts. An event
// counts as published when the hub accepted it, or when its publish got no
// answer but some subscription received it; each published event is
// expected once by every open subscription of its topic.
func (r *Report) fill(results []WorkerResult, p *publishing, elapsed time.Duration) {
	var lat, conn Histogram
	perTopic := make([]int, r.Topics)
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
		}
	}
	if s, ok := p.lastError.Load().(string); ok {
		r.LastError = s
	}
	if d := p.cfg.Duration.Seconds(); d > 0 {
		r.PublishRate = float64(r.Published) / d
	}
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
	fmt.Fprintf(&b, "load         %d conns, %d topics, %d events/s for %s\n", r.Conns, r.Topics, r.Rate, r.Duration)
	fmt.Fprintf(&b, "connect      %d open, %d failed in %.0f ms (per conn p50 %.1f ms, p99 %.1f ms, max %.1f ms)\n",
		r.Connected, r.ConnectFailed, r.ConnectWallMs, r.ConnectP50Ms, r.ConnectP99Ms, r.ConnectMaxMs)
	fmt.Fprintf(&b, "published    %d of %d planned (%d errors), %.1f/s; answered in p50 %.2f ms, p99 %.2f ms\n",
		r.Published, r.Planned, r.PublishErrors, r.PublishRate, r.PublishP50Ms, r.PublishP99Ms)
	if r.LastError != "" {
		fmt.Fprintf(&b, "last error   %s\n", r.LastError)
	}
	fmt.Fprintf(&b, "deliveries   %d of %d expected, %d lost, %d duplicates, %d reconnects, %.0f/s\n",
		r.Received, r.Expected, r.Lost, r.Duplicates, r.Reconnects, r.DeliveriesPerSec)
	fmt.Fprintf(&b, "latency      p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyP999Ms, r.LatencyMaxMs)
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
	}
	s := fmt.Sprintf("bench: %-7s conns %d/%d", phase, pr.Connected, l.conns)
	if pr.Connected == 0 && !pr.Ready {
		s = fmt.Sprintf("bench: %-7s opening %d conns", phase, l.conns)
	}
	if p != nil {
		s += fmt.Sprintf(" | published %d/%d (%d errors) | received %d/%d | reconnects %d",
			p.sent.Load(), p.total, p.errs.Load(), pr.Received, p.expectedSoFar(l.workers), pr.Reconnects)
	}
	if l.tty {
		fmt.Fprintf(l.w, "\r%s\x1b[K", s)
	} else {
		fmt.Fprintln(l.w, s)
	}
	l.printed = true
}

func (l *progressLine) finish() {
	if l.w != nil && l.tty && l.printed {
		fmt.Fprintln(l.w)
	}
}

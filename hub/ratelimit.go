package hub

import (
	"bufio"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// The limits, as the limit label of sse_rate_limited_total names them.
const (
	limitPublish          = "publish"
	limitConnectionsPerIP = "connections_per_ip"
)

// connectionsRetryAfter is the Retry-After of a 429 for the per-address
// stream limit, in seconds: a slot frees when one of the client's own
// streams ends, which the hub cannot foresee; 5 s, as the core's 503 for
// MaxConnections.
const connectionsRetryAfter = 5

// limits enforces Config.PublishRate and Config.MaxConnectionsPerIP and
// counts what they refuse. Safe for concurrent use.
type limits struct {
	publishRate int
	publish     *rateLimiter // nil: no publish limit
	maxConns    int          // 0: no per-address stream limit
	ipv6Bits    int          // leading bits of an IPv6 address counted as one client
	ssePath     string
	refused     *prometheus.CounterVec
	logger      *slog.Logger

	mu   sync.Mutex
	open map[string]int // streams open per client address
}

// newLimits returns the limits of cfg, with their counter registered on
// the app's metrics registry.
func newLimits(cfg Config, app *ssevents.App) *limits {
	l := &limits{
		publishRate: cfg.PublishRate, maxConns: cfg.MaxConnectionsPerIP, ipv6Bits: cfg.IPv6PrefixBits,
		ssePath: app.Config().Path, logger: cfg.Logger, open: make(map[string]int),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sse_rate_limited_total",
			Help: "Requests refused with 429 by a hub limit (SSE_PUBLISH_RATE, SSE_MAX_CONNECTIONS_PER_IP), by limit.",
		}, []string{"limit"}),
	}
	if cfg.PublishRate > 0 {
		l.publish = newRateLimiter(cfg.PublishRate)
	}
	l.refused.WithLabelValues(limitPublish) // exposed at 0 from the start
	l.refused.WithLabelValues(limitConnectionsPerIP)
	app.Metrics().Registry().MustRegister(l.refused)
	return l
}

// refuse counts and logs a refusal by limit, sets Retry-After on w and
// returns err (which wraps sse.ErrRateLimited: a 429) for the caller to
// write.
func (l *limits) refuse(w http.ResponseWriter, r *http.Request, limit string, retryAfter int, err error) error {
	l.refused.WithLabelValues(limit).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	l.logger.DebugContext(r.Context(), "rate limited", "limit", limit, "client", l.addrKey(r), "path", r.URL.Path)
	return err
}

// addrKey is the key the per-address limits count r's client by: its
// address, or its IPv6 prefix (Config.IPv6PrefixBits).
func (l *limits) addrKey(r *http.Request) string { return clientOf(r).key(r, l.ipv6Bits) }

// allowPublish takes one publish from the bucket of the publisher: its
// token's subject, else its client address. Over the rate it returns an
// error wrapping sse.ErrRateLimited, with Retry-After set on w.
func (l *limits) allowPublish(w http.ResponseWriter, r *http.Request, claims *Claims) error {
	if l == nil || l.publish == nil {
		return nil
	}
	key, who := "addr:"+l.addrKey(r), "client address"
	if claims != nil && claims.Subject != "" {
		key, who = "sub:"+claims.Subject, "token subject"
	}
	wait := l.publish.reserve(key, time.Now())
	if wait <= 0 {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return l.refuse(w, r, limitPublish, secs, fmt.Errorf("%w: over the publish rate limit (SSE_PUBLISH_RATE) of %d per second per %s; retry in %d s",
		sse.ErrRateLimited, l.publishRate, who, secs))
}

// wrapStreams holds subscribe requests (GET on the SSE path) to
// MaxConnectionsPerIP open at once per client address. A slot is taken
// before the request reaches the app and given back when the stream ends:
// when the app's handler returns, or, for a stream that took the connection
// over (Hijack), when that connection is closed.
func (l *limits) wrapStreams(next http.Handler) http.Handler {
	if l.maxConns == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !l.isStreamPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		key := l.addrKey(r)
		if !l.acquire(key) {
			err := l.refuse(w, r, limitConnectionsPerIP, connectionsRetryAfter, fmt.Errorf(
				"%w: over the limit of %d open streams per client address (SSE_MAX_CONNECTIONS_PER_IP); close one or retry later",
				sse.ErrRateLimited, l.maxConns))
			ssevents.WriteError(w, r, l.logger, err)
			return
		}
		sw := &slotWriter{ResponseWriter: w, release: sync.OnceFunc(func() { l.release(key) })}
		defer func() {
			if !sw.hijacked {
				sw.release()
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// isStreamPath reports whether the app's mux routes path to the SSE
// endpoint (a Path ending in / is a subtree).
func (l *limits) isStreamPath(path string) bool {
	return path == l.ssePath || strings.HasSuffix(l.ssePath, "/") && strings.HasPrefix(path, l.ssePath)
}

// acquire takes a stream slot of key, reporting false when it has none
// left.
func (l *limits) acquire(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.maxConns {
		return false
	}
	l.open[key]++
	return true
}

// release gives back a stream slot of key. A key whose last stream ended
// is deleted: the map holds only addresses with open streams, at most
// the core's MaxConnections.
func (l *limits) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// slotWriter is the ResponseWriter of a stream that holds a slot. Its
// Hijack hands out a connection whose Close gives the slot back; the other
// ResponseWriter features are reached through Unwrap.
type slotWriter struct {
	http.ResponseWriter
	release  func()
	hijacked bool // set on the handler's goroutine, read after it returns
}

// Unwrap returns the underlying ResponseWriter, for
// http.ResponseController.
func (w *slotWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack implements http.Hijacker: the stream then owns the slot until it
// closes the connection.
func (w *slotWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	return &slotConn{Conn: conn, release: w.release}, brw, nil
}

// slotConn is a hijacked stream's connection; closing it gives the slot
// back (once, however often it is closed).
type slotConn struct {
	net.Conn
	release func()
}

// Close closes the connection and gives the slot back.
func (c *slotConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// Bounds of the publish limiter's memory.
const (
	// minRateSweep is the map size below which idle buckets are not
	// swept: a sweep of a small map would run too often for what it frees.
	minRateSweep = 1024
	// maxRateKeys bounds the buckets kept (about 200 bytes each, so a few
	// tens of MB at most): past it, even after a sweep, every bucket is
	// dropped and the keys start afresh.
	maxRateKeys = 100_000
)

// rateLimiter is one token bucket per key (a token subject or a client
// address): rate per second, in bursts of as many. Safe for concurrent use.
//
// Its memory is bounded. A bucket that has refilled (its key idle for a
// second, since the burst is one second's worth) is the same as a new one,
// so dropping it changes nothing; such buckets are swept each time the map
// has doubled since the last sweep. It thus holds about the keys active in
// the last second, and never more than maxRateKeys.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	keys    map[string]*rate.Limiter
	sweepAt int // map size at which the next sweep runs
}

// newRateLimiter returns a limiter of perSecond events per second and key
// (perSecond > 0), in bursts of perSecond.
func newRateLimiter(perSecond int) *rateLimiter {
	return &rateLimiter{limit: rate.Limit(perSecond), burst: perSecond,
		keys: make(map[string]*rate.Limiter), sweepAt: minRateSweep}
}

// reserve takes one event of key at now: 0 when allowed, else how long
// until one would be (and nothing is taken).
func (l *rateLimiter) reserve(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.keys[key]
	if lim == nil {
		if len(l.keys) >= l.sweepAt {
			l.sweep(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.keys[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// sweep drops the buckets that have refilled; l.mu is held.
func (l *rateLimiter) sweep(now time.Time) {
	for k, lim := range l.keys {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxRateKeys {
		clear(l.keys) // a flood of distinct busy keys: start over
	}
	l.sweepAt = min(maxRateKeys, max(minRateSweep, 2*len(l.keys)))
}

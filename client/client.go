package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Defaults for the zero fields of Config.
const (
	// DefaultEventsPath is the path of the SSE endpoint under Config.URL.
	DefaultEventsPath = sse.DefaultPath
	// DefaultPublishPath is the path of the hub's publish API.
	DefaultPublishPath = "/publish"
	// DefaultBackoffInitial is the ceiling of the first jittered
	// reconnection delay; the ceiling doubles after each failed attempt.
	DefaultBackoffInitial = 500 * time.Millisecond
	// DefaultBackoffMax caps the jittered part of the reconnection delay.
	DefaultBackoffMax = 30 * time.Second
	// DefaultHeartbeatInterval is the server's heartbeat interval the
	// client expects: sse.DefaultHeartbeatInterval (15 s).
	DefaultHeartbeatInterval = sse.DefaultHeartbeatInterval
	// DefaultMissedHeartbeats is how many heartbeat intervals may pass
	// without a byte before the connection is presumed dead.
	DefaultMissedHeartbeats = 3
	// DefaultMaxEventBytes bounds the data of one event; it matches the
	// parser's default of 16 MiB.
	DefaultMaxEventBytes = 16 << 20
	// DefaultPublishRetries is how many times a publish is sent again
	// after a 503 or a request with no answer.
	DefaultPublishRetries = 3
)

// Errors returned by the package, checked with errors.Is.
var (
	// ErrDeadConnection: no byte arrived for MissedHeartbeats heartbeat
	// intervals. A subscription reports it through OnConnState and
	// reconnects.
	ErrDeadConnection = errors.New("ssevents: no data or heartbeat received in time, connection presumed dead")
	// ErrNotEventStream: the server answered 200 with a Content-Type other
	// than text/event-stream (a wrong URL or path). Subscriptions end with
	// it.
	ErrNotEventStream = errors.New("ssevents: response is not text/event-stream")
	// ErrNoTopic: Subscribe or Publish was called without a topic.
	ErrNoTopic = sse.ErrNoTopic
)

// Config configures a Client. Every zero field means the default named in
// its comment; only URL is required.
type Config struct {
	// URL of the hub or application, e.g. "http://localhost:8000". A path
	// in it prefixes EventsPath and PublishPath.
	URL string
	// EventsPath is the SSE endpoint under URL. Default DefaultEventsPath
	// ("/events").
	EventsPath string
	// PublishPath is the publish API under URL. Default
	// DefaultPublishPath ("/publish").
	PublishPath string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// TokenFunc, when set, is called before every connection and publish
	// for the bearer token, so that an expiring token can be refreshed.
	// It takes precedence over Token.
	TokenFunc func(ctx context.Context) (string, error)
	// Header holds headers added to every request (cookies, API keys).
	Header http.Header
	// HTTPClient makes the requests. Its Timeout must be zero, or it
	// would cut long-lived streams. Default: a client of its own with
	// http.DefaultTransport's settings and no timeout.
	HTTPClient *http.Client
	// CAFile is a PEM file of CA certificates trusted for an https:// URL
	// besides the system's: a hub whose certificate a private CA signed
	// (curl's --cacert). It is read by New, and applies to the default
	// HTTPClient only: New fails when both are set (give your HTTPClient's
	// transport the pool of CAPool instead). Default: none, the system's
	// roots only.
	CAFile string
	// BackoffInitial is the ceiling of the jittered delay before the first
	// reconnection; it doubles after each failed attempt, up to BackoffMax.
	// Default DefaultBackoffInitial (500 ms).
	BackoffInitial time.Duration
	// BackoffMax caps the jittered part of the reconnection delay. Default
	// DefaultBackoffMax (30 s).
	BackoffMax time.Duration
	// HeartbeatInterval is the server's heartbeat interval. Default
	// DefaultHeartbeatInterval (15 s).
	HeartbeatInterval time.Duration
	// MissedHeartbeats is how many heartbeat intervals may pass with no
	// byte received before the connection is presumed dead and replaced.
	// Default DefaultMissedHeartbeats (3); a negative value turns the
	// detection off.
	MissedHeartbeats int
	// MaxEventBytes bounds the data of one event; a larger one ends the
	// subscription with wire's ErrEventTooLarge (reconnecting would replay
	// the same event). Default DefaultMaxEventBytes (16 MiB).
	MaxEventBytes int
	// PublishRetries is how many times Publish, PublishTopics and
	// PublishMessage send a request again, with the same Idempotency-Key,
	// after a 503 answer or a request that got no answer (a refused or
	// reset connection). The delays follow BackoffInitial and BackoffMax,
	// and are at least the answer's Retry-After. Default
	// DefaultPublishRetries (3); a negative value turns retrying off.
	PublishRetries int
}

// Client subscribes to and publishes on one hub or application. It is safe
// for concurrent use; it holds no resources of its own beyond its
// HTTPClient's idle connections, so it has no Close.
type Client struct {
	cfg        Config
	base       *url.URL // Config.URL without query: other endpoints are under it
	eventsURL  *url.URL
	publishURL string
	hc         *http.Client
}

// New returns a client for cfg.URL. It fails when the URL is not an
// absolute http or https URL or a setting is out of range.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: client URL %q: want http://host[:port][/prefix]", sse.ErrInvalidConfig, cfg.URL)
	}
	switch {
	case cfg.BackoffInitial < 0, cfg.BackoffMax < 0, cfg.HeartbeatInterval < 0, cfg.MaxEventBytes < 0:
		return nil, fmt.Errorf("%w: client durations and sizes must not be negative", sse.ErrInvalidConfig)
	case cfg.HTTPClient != nil && cfg.HTTPClient.Timeout != 0:
		return nil, fmt.Errorf("%w: HTTPClient.Timeout must be 0, or it cuts streams; use contexts", sse.ErrInvalidConfig)
	case cfg.HTTPClient != nil && cfg.CAFile != "":
		return nil, fmt.Errorf("%w: CAFile applies to the default HTTPClient; set the RootCAs of your HTTPClient's transport (CAPool)", sse.ErrInvalidConfig)
	}
	if cfg.EventsPath == "" {
		cfg.EventsPath = DefaultEventsPath
	}
	if cfg.PublishPath == "" {
		cfg.PublishPath = DefaultPublishPath
	}
	if cfg.BackoffInitial == 0 {
		cfg.BackoffInitial = DefaultBackoffInitial
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.MissedHeartbeats == 0 {
		cfg.MissedHeartbeats = DefaultMissedHeartbeats
	}
	if cfg.PublishRetries == 0 {
		cfg.PublishRetries = DefaultPublishRetries
	}
	if cfg.MaxEventBytes == 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pool, err := CAPool(cfg.CAFile)
			if err != nil {
				return nil, err
			}
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		hc = &http.Client{Transport: t}
	}
	u.RawQuery, u.Fragment = "", ""
	return &Client{
		cfg:        cfg,
		base:       u,
		eventsURL:  u.JoinPath(cfg.EventsPath),
		publishURL: u.JoinPath(cfg.PublishPath).String(),
		hc:         hc,
	}, nil
}

// CAPool returns the system's root certificates (none where they cannot
// be loaded) plus the CA certificates of the PEM file, for the RootCAs of
// a tls.Config. It fails, naming the file, when the file cannot be read
// or holds no certificate.
func CAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", sse.ErrInvalidConfig, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", sse.ErrInvalidConfig, file)
	}
	return pool, nil
}

// CloseIdleConnections closes the idle keep-alive connections of the
// client's HTTP transport (left by Publish). Open streams are not affected.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// setHeaders adds the configured headers and the bearer token to req.
func (c *Client) setHeaders(req *http.Request) error {
	for k, vs := range c.cfg.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	token := c.cfg.Token
	if c.cfg.TokenFunc != nil {
		var err error
		if token, err = c.cfg.TokenFunc(req.Context()); err != nil {
			return fmt.Errorf("ssevents: getting the bearer token: %w", err)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return nil
}

// StatusError is an error answer of the server: its HTTP status and the
// message of its JSON body {"error": "..."} (or the start of a non-JSON
// body). It matches, with errors.Is, the sse sentinel error the server
// answered with when its message names one (sse.ErrInvalidTopic for
// `ssevents: invalid topic: ...`, say), and otherwise the sentinel of its
// status: sse.ErrUnauthorized for 401, ErrForbidden for 403,
// ErrMessageTooLarge for 413, ErrTooManyConnections or ErrUnavailable
// for 503 and ErrOutcomeUnknown for 504, so errors.Is works across client
// and server.
type StatusError struct {
	// StatusCode is the HTTP status, e.g. 403.
	StatusCode int
	// Message is what the server said was wrong, as it said it (an
	// ssevents server's message starts with "ssevents: ").
	Message string
	// RetryAfter is the server's Retry-After, when it sent one in seconds.
	RetryAfter time.Duration
	// IdempotencyKey is the idempotency key the answer is about, when the
	// server named one (a 422 for a key reused for another request, a 409
	// for a key whose first request is still in flight): then the error
	// unwraps to an *sse.IdempotencyKeyError with it.
	IdempotencyKey string
}

// Error implements error with one "ssevents: " prefix: an ssevents
// server's message followed by the status, as in
// `ssevents: invalid topic: "a b" has the character ' '; ... (400)`, or
// for another server `ssevents: server answered 404: 404 page not found`.
func (e *StatusError) Error() string {
	if msg, ok := strings.CutPrefix(e.Message, "ssevents: "); ok && msg != "" {
		return fmt.Sprintf("ssevents: %s (%d)", msg, e.StatusCode)
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("ssevents: server answered %d: %s", e.StatusCode, msg)
}

// answerSentinels are the sse errors a server answers with, which a
// StatusError matches when its message starts with theirs.
var answerSentinels = []error{
	sse.ErrNoTopic, sse.ErrInvalidTopic, sse.ErrTooManyTopics, sse.ErrInvalidEvent,
	sse.ErrInvalidData, sse.ErrInvalidRequest, sse.ErrInvalidIdempotencyKey,
	sse.ErrIdempotencyKeyReused, sse.ErrIdempotencyKeyInFlight,
	sse.ErrUnauthorized, sse.ErrForbidden, sse.ErrMessageTooLarge, sse.ErrRateLimited,
	sse.ErrRequestTimeout, sse.ErrUnsupportedMediaType, sse.ErrTooManyConnections,
	sse.ErrUnavailable, sse.ErrBrokerClosed, sse.ErrOutcomeUnknown, sse.ErrNotTracked, sse.ErrNoPosition,
}

// Unwrap returns the ssevents sentinel error the server's message and
// status name, or nil. For an answer about an idempotency key it returns
// an *sse.IdempotencyKeyError for e.IdempotencyKey, which unwraps to the
// sentinel in turn (sse.ErrIdempotencyKeyReused, ErrIdempotencyKeyInFlight).
func (e *StatusError) Unwrap() error {
	for _, s := range answerSentinels {
		text := s.Error()
		if sse.HTTPStatus(s) == e.StatusCode && (e.Message == text || strings.HasPrefix(e.Message, text+":")) {
			if e.IdempotencyKey != "" && (errors.Is(s, sse.ErrIdempotencyKeyReused) || errors.Is(s, sse.ErrIdempotencyKeyInFlight)) {
				return sse.NewIdempotencyKeyError(e.IdempotencyKey, s)
			}
			return s
		}
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return sse.ErrUnauthorized
	case http.StatusForbidden:
		return sse.ErrForbidden
	case http.StatusRequestEntityTooLarge:
		return sse.ErrMessageTooLarge
	case http.StatusServiceUnavailable:
		if strings.Contains(e.Message, "too many connections") {
			return sse.ErrTooManyConnections
		}
		return sse.ErrUnavailable
	case http.StatusGatewayTimeout:
		return sse.ErrOutcomeUnknown
	}
	return nil
}

// Temporary reports whether retrying the request later may succeed: true
// for 408, 429 and 5xx statuses but 501 (the server cannot do it at all).
func (e *StatusError) Temporary() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500 && e.StatusCode != http.StatusNotImplemented
}

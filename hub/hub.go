package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/settings"
	"github.com/ssevents/ssevents/sse"
)

// Defaults for the zero fields of Config.
const (
	// DefaultAuthorizeTimeout bounds one call of the authorization
	// webhook: long enough for an app's session lookup, short enough that
	// a stuck app does not hold connections open.
	DefaultAuthorizeTimeout = 2 * time.Second
	// DefaultAuthorizeCacheTTL is how long a webhook's answer is reused
	// for the same credentials and topics: it absorbs a reconnect storm
	// while a revoked session stops working within seconds.
	DefaultAuthorizeCacheTTL = 5 * time.Second
	// DefaultIPv6PrefixBits is the IPv6 prefix the per-address limits
	// count as one client: a /64, the smallest block a site or a home is
	// usually given, so one client cannot get 2^64 fresh addresses.
	DefaultIPv6PrefixBits = 64
	// MinJWTSecretLength is the shortest HS256 secret accepted, in bytes:
	// RFC 7518 section 3.2 asks for a key at least as long as the hash.
	MinJWTSecretLength = 32
)

// Config configures a Hub. Every zero field means the default named in its
// comment. ApplyLookup fills it from SSE_* variables.
type Config struct {
	// Config is the core configuration: SSE path, broker (BrokerURL),
	// limits, history, logger. Its Authorize, when set, is asked once per
	// subscribe request, with every topic, after the hub's own checks
	// allowed them all; its 401s carry the hub's Bearer challenge.
	ssevents.Config

	// JWTSecret is the HS256 secret tokens are signed with, at least
	// MinJWTSecretLength bytes. Default: none. Env: SSE_JWT_SECRET.
	JWTSecret string
	// JWTPublicKeyFile is a PEM file with an RSA or ECDSA public key (or
	// certificate) that verifies RS256/RS384/RS512 or ES256/ES384/ES512
	// tokens. Default: none. Env: SSE_JWT_PUBLIC_KEY_FILE.
	JWTPublicKeyFile string
	// JWTJWKSFile is a JSON Web Key Set file (RSA and EC keys, chosen by
	// the token's kid). Default: none. Env: SSE_JWT_JWKS_FILE.
	JWTJWKSFile string
	// JWTIssuer, when set, is the iss claim every token must carry.
	// Env: SSE_JWT_ISSUER.
	JWTIssuer string
	// JWTAudience, when set, must be one of the token's aud values.
	// Env: SSE_JWT_AUDIENCE.
	JWTAudience string
	// JWTLeeway is the clock skew allowed on exp, nbf and iat. Default 0.
	// Env: SSE_JWT_LEEWAY_SECONDS.
	JWTLeeway time.Duration
	// JWTJWKSURL is a JWKS URL (RSA and EC keys chosen by kid), fetched
	// in the background and on an unknown kid (rate-limited). New does not
	// wait for the first fetch: until it succeeds, /health/ready answers
	// 503 and a token only its keys could verify is answered 503 (see
	// WaitKeys). Default: none. Env: SSE_JWT_JWKS_URL.
	JWTJWKSURL string
	// JWTAllowNoExp accepts tokens without exp (they never end a stream). Default
	// false: exp is required. Env: SSE_JWT_REQUIRE_EXP=false.
	JWTAllowNoExp bool
	// PresenceInfoClaim names the token claim whose value (a JSON object
	// of at most sse.MaxPresenceInfoBytes) is a member's info, shown to
	// the others present on the topics Presence tracks. The member is the
	// token's sub. Default: none (no info). Env: SSE_PRESENCE_INFO_CLAIM.
	PresenceInfoClaim string

	// AuthorizeURL is the authorization webhook: the hub POSTs
	// {"topics": [...]} to it with the subscriber's Cookie and
	// Authorization headers, and allows the topics a 2xx answer allows
	// (see the package documentation of webhook answers). Default: none.
	// Env: SSE_AUTHORIZE_URL.
	AuthorizeURL string
	// AuthorizeTimeout bounds one webhook call; a call that takes longer
	// denies. Default DefaultAuthorizeTimeout (2 s).
	// Env: SSE_AUTHORIZE_TIMEOUT_MS.
	AuthorizeTimeout time.Duration
	// AuthorizeCacheTTL is how long a webhook answer is reused for the
	// same credentials and topics; negative disables the cache. Default
	// DefaultAuthorizeCacheTTL (5 s). Env: SSE_AUTHORIZE_CACHE_SECONDS.
	AuthorizeCacheTTL time.Duration
	// HTTPClient calls the webhook. Default: a client that follows no
	// redirects (credentials are never sent elsewhere).
	HTTPClient *http.Client

	// PublicTopics are topic patterns anyone may subscribe to without
	// credentials. Default: none. Env: SSE_PUBLIC_TOPICS.
	PublicTopics []string
	// CORSOrigins are the origins allowed to make cross-origin requests
	// ("https://app.example.com"), or "*" for any origin (then without
	// credentials). Default: none. Env: SSE_CORS_ORIGINS.
	CORSOrigins []string
	// DisableDemo turns off the demo page at GET /. Default false (the
	// page is served). Env: SSE_DEMO=false.
	DisableDemo bool

	// TrustedProxies are the reverse proxies (CIDRs such as "10.0.0.0/8",
	// or single addresses) whose X-Forwarded-For or X-Real-IP names the
	// client. The client address (forwarded to the webhook, logged, counted
	// by the per-address limits, checked by the loopback-only publish rule)
	// is the TCP peer unless the peer is one of them. Default: none.
	// Env: SSE_TRUSTED_PROXIES.
	TrustedProxies []string
	// PublishRate is how many publishes per second each token subject (the
	// sub claim; without a token or sub, each client address) may make,
	// in bursts of as many; past it POST /publish answers 429 with
	// Retry-After. Default 0: no limit. Env: SSE_PUBLISH_RATE.
	PublishRate int
	// MaxConnectionsPerIP is how many streams one client address may have
	// open at once; past it the SSE endpoint answers 429 with
	// Retry-After. Default 0: no limit. Env: SSE_MAX_CONNECTIONS_PER_IP.
	MaxConnectionsPerIP int
	// IPv6PrefixBits is how many leading bits of an IPv6 client address
	// the per-address limits (PublishRate, MaxConnectionsPerIP) count as
	// one client, from 1 to 128: every address of a /64 shares its limits
	// by default, since one client often holds a whole /64. IPv4
	// addresses are counted one by one. Default DefaultIPv6PrefixBits
	// (64). Env: SSE_IPV6_PREFIX_BITS.
	IPv6PrefixBits int
}

func (c Config) withDefaults() Config {
	if c.AuthorizeTimeout == 0 {
		c.AuthorizeTimeout = DefaultAuthorizeTimeout
	}
	if c.AuthorizeCacheTTL == 0 {
		c.AuthorizeCacheTTL = DefaultAuthorizeCacheTTL
	}
	if c.IPv6PrefixBits == 0 {
		c.IPv6PrefixBits = DefaultIPv6PrefixBits
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first setting of c that is invalid (out of the
// range its declaration in Settings allows, or a path the hub uses for
// another route), as an error wrapping sse.ErrInvalidConfig. It does not
// read key files.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", sse.ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch p := strings.TrimSuffix(c.Path, "/"); {
	case c.Path == "/", p == "/publish", p == "/demo":
		// The app's own routes (/presence, /health, ...) are refused by
		// c.Config.Validate above.
		return bad("Path is %q, allowed: a path the hub does not use for another route (/, /publish, /demo/)", c.Path)
	}
	d := c.withDefaults()
	return settings.Validate(&d, ownSettings)
}

// Hub is the standalone server, an http.Handler. Its routes:
//
//	GET  /             demo page (unless Config.DisableDemo)
//	POST /publish      publish API: {"topic" | "topics", "event", "data"} -> {"id"}
//	GET  /events       SSE endpoint (Config.Path); ?presence=true adds presence events
//	GET  /presence     who is present on a tracked topic (Config.Presence)
//	GET  /position     the stream position of topics now: {"position"} for ?lastEventId=
//	GET  /ssevents.js  the browser client, @ssevents/client (clients/js)
//	GET  /health, /health/live, /health/ready, /metrics, /metrics/prometheus
//
// and CORS preflights for all of them. It is safe for concurrent use. After
// Close, streams have ended, the SSE endpoint answers 503 and publishes
// fail with 503.
type Hub struct {
	cfg     Config
	app     *ssevents.App
	auth    *authenticator
	webhook *webhook
	cors    *cors
	limits  *limits
	logger  *slog.Logger
	handler http.Handler

	publishReadTimeout time.Duration // 0: the constant publishReadTimeout; tests shorten it

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, loads its keys, opens the broker and returns the hub.
// Close it when done.
func New(cfg Config) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Hub{cfg: cfg, logger: cfg.Logger, cors: newCORS(cfg.CORSOrigins)}
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	h.auth = auth
	if cfg.AuthorizeURL != "" {
		h.webhook = newWebhook(cfg)
	}
	core := cfg.Config
	core.Authorize = h.subscribeAuthorizer(core.Authorize)
	h.app, err = ssevents.New(core)
	if err != nil {
		h.auth.close()
		return nil, err
	}
	h.registerMetrics()
	h.routes()
	h.handler = h.guard(h.holdReady(h.app))
	h.logMode()
	return h, nil
}

// logMode says at start how requests are authenticated.
func (h *Hub) logMode() {
	switch {
	case h.auth == nil && h.webhook == nil:
		h.logger.Warn("no authentication configured: anyone may subscribe to any topic; publishing is accepted only from loopback",
			"fix", "set SSE_JWT_SECRET, SSE_JWT_PUBLIC_KEY_FILE, SSE_JWT_JWKS_FILE or SSE_AUTHORIZE_URL")
	case h.auth == nil:
		h.logger.Info("publishing is accepted only from loopback: configure a JWT key to publish from other hosts")
	}
}

// LogReady logs "hub ready" with url, the base URL the hub is served on
// ("https://localhost:8000"), its demo page's URL unless
// Config.DisableDemo, how subscriptions are authorized, and the broker:
// its URL with any password hidden ("redis://:xxxxx@host:6379/0"), and
// the data directory of a durable embedded one. A program that
// serves the hub calls it once it listens: New does not know the address,
// and a hub whose listener could not be bound is not ready.
func (h *Hub) LogReady(ctx context.Context, url string) {
	attrs := []any{"url", url}
	if !h.cfg.DisableDemo {
		attrs = append(attrs, "demo", url+"/")
	}
	attrs = append(attrs, "path", h.app.Config().Path, "jwt", h.auth != nil, "webhook", h.webhook != nil,
		"public_topics", h.cfg.PublicTopics, "cors_origins", h.cfg.CORSOrigins)
	cfg := h.app.Config()
	switch {
	case cfg.Broker != nil && cfg.BrokerURL == "":
		attrs = append(attrs, "broker", fmt.Sprintf("%T (Config.Broker)", cfg.Broker))
	default:
		attrs = append(attrs, "broker", RedactURL(cfg.BrokerURL))
	}
	if cfg.DataDir != "" {
		attrs = append(attrs, "data_dir", cfg.DataDir)
	}
	h.logger.InfoContext(ctx, "hub ready", attrs...)
}

// RedactURL returns a broker URL as it may be logged: the password of
// its user information (in any of its hosts) replaced by "xxxxx", as
// url.URL.Redacted does; a value that is no URL is returned as it is
// after its last "@", so that no secret leaks from a typo.
func RedactURL(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	scheme, rest, ok := strings.Cut(raw[:at], "://")
	if !ok {
		return "…" + raw[at:]
	}
	if user, _, hasPass := strings.Cut(rest, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx" + raw[at:]
	}
	return raw
}

// routes registers the hub's endpoints on the app's mux, next to the app's
// own (SSE, health, metrics): one mux routes every request.
func (h *Hub) routes() {
	if !h.cfg.DisableDemo {
		h.app.HandleFunc("GET /{$}", h.handleDemo)
		h.app.HandleFunc("GET /demo/{file}", h.handleDemoAsset)
	}
	h.app.HandleFunc("POST /publish", h.handlePublish)
	// The SSE endpoint, health and metrics are the app's own routes; the
	// hub's authorization reaches them through Config.Authorize.
}

// ServeHTTP implements http.Handler.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// App returns the ssevents.App the hub serves, to publish from Go.
func (h *Hub) App() *ssevents.App { return h.app }

// Close ends every stream, then closes the broker if the hub opened it.
// Call it before http.Server.Shutdown, which otherwise waits for streams.
// It is idempotent.
func (h *Hub) Close() error {
	h.closeOnce.Do(func() {
		h.closeErr = h.app.Close()
		h.auth.close()
		if h.webhook != nil {
			h.webhook.close()
		}
	})
	return h.closeErr
}

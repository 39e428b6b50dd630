package hub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/ssevents/ssevents/sse"
)

// Refreshing a JWKS from Config.JWTJWKSURL.
var (
	// jwksRefreshInterval is how often the key set is fetched in the
	// background: an identity provider publishes a new key well before
	// signing with it, so this catches rotations before any token needs
	// them. Tests shorten it.
	jwksRefreshInterval = 10 * time.Minute
	// jwksUnknownKIDInterval is the least time between two fetches caused
	// by tokens with an unknown kid: a rotation the background refresh has
	// not seen yet costs one fetch, and a flood of tokens with made-up kids
	// costs one fetch a minute, not one each.
	jwksUnknownKIDInterval = time.Minute
)

const (
	// jwksFetchTimeout bounds one fetch of the key set.
	jwksFetchTimeout = 10 * time.Second
	// jwksWaitMax is how long a token with an unknown kid may wait for the
	// rate limiter to allow a fetch; one that would wait longer is refused
	// at once instead of holding its request.
	jwksWaitMax = 2 * time.Second
	// jwksFirstRetry is the wait after the first failed fetch at start;
	// it doubles after each failure, up to jwksUnknownKIDInterval, so a
	// JWKS server that comes up late is seen within seconds and one that
	// stays down is asked once a minute.
	jwksFirstRetry = time.Second
)

// errKeysNotLoaded refuses a token that only the JWKS URL's keys could
// verify, before the first fetch of that set succeeded. It is a 503
// (sse.ErrUnavailable), not a 401: the token may well be valid, and the
// client should retry it, not throw it away.
var errKeysNotLoaded error = keysNotLoadedError{}

// keysNotLoadedError is the type of errKeysNotLoaded.
type keysNotLoadedError struct{}

func (keysNotLoadedError) Error() string {
	return "ssevents: unavailable: the keys that verify this token are not loaded yet (the JWKS of SSE_JWT_JWKS_URL has not been fetched since the hub started); retry shortly"
}

// Is makes errKeysNotLoaded an sse.ErrUnavailable, so that it answers 503.
func (keysNotLoadedError) Is(target error) bool { return target == sse.ErrUnavailable }

// remoteKeys are the keys of a JWKS URL, fetched in the background: New
// does not wait for them, so that a slow or hanging JWKS server does not
// delay the hub's listener. Until the first fetch succeeds (loaded), the
// tokens they would verify are refused with errKeysNotLoaded and the hub
// is not ready; the fetch is retried with backoff. From then on keyfunc
// keeps them fresh (refreshed every jwksRefreshInterval, and on an unknown
// kid at most every jwksUnknownKIDInterval), and a failed fetch keeps the
// keys known so far, so a JWKS server that is down stops no token signed
// with a known key. Safe for concurrent use.
type remoteKeys struct {
	url       string
	logger    *slog.Logger
	override  keyfunc.Override
	maxWait   time.Duration      // the longest wait between two first fetches
	ctx       context.Context    // ends the fetches and the refresh
	cancel    context.CancelFunc // ends ctx
	transport *http.Transport
	done      chan struct{}      // closed when the first-fetch goroutine returned
	stopKF    context.CancelFunc // ends the loaded keyfunc's refresh; set before done is closed

	loaded chan struct{}   // closed once kf is set: the first fetch succeeded
	kf     keyfunc.Keyfunc // written once, before loaded is closed
}

// newRemoteKeys checks url and starts fetching its key set in the
// background until close; it does not wait for the fetch.
func newRemoteKeys(rawURL string, logger *slog.Logger) (*remoteKeys, error) {
	if _, err := url.ParseRequestURI(rawURL); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Timeout: jwksFetchTimeout, Transport: limitedBody{tr}}
	noErrorOnFirst := false // the first fetch's failure is seen and retried here
	k := &remoteKeys{url: rawURL, logger: logger, ctx: ctx, cancel: cancel, transport: tr,
		maxWait: max(jwksFirstRetry, jwksUnknownKIDInterval),
		done:    make(chan struct{}), loaded: make(chan struct{}),
		override: keyfunc.Override{
			Client:                    client,
			HTTPTimeout:               jwksFetchTimeout,
			NoErrorReturnFirstHTTPReq: &noErrorOnFirst,
			RefreshInterval:           jwksRefreshInterval,
			RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDInterval), 1),
			RateLimitWaitMax:          jwksWaitMax,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					logger.WarnContext(ctx, "fetching the JWKS failed; keeping the keys known so far", "url", u, "error", err)
				}
			},
		}}
	go k.fetchFirst()
	return k, nil
}

// fetchFirst fetches the key set until a fetch succeeds or close is
// called, waiting jwksFirstRetry after the first failure, twice as long
// after each next one, at most jwksUnknownKIDInterval.
func (k *remoteKeys) fetchFirst() {
	defer close(k.done)
	wait := jwksFirstRetry
	for {
		// Each attempt has its own context: keyfunc starts its refresh
		// loop before the first fetch, and a failed attempt's must end.
		ctx, cancel := context.WithCancel(k.ctx)
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{k.url}, k.override)
		if err == nil {
			k.kf, k.stopKF = kf, cancel // ctx lives on, for the refresh loop, until close
			close(k.loaded)
			k.logger.InfoContext(ctx, "JWKS fetched: tokens its keys sign are accepted", "url", k.url)
			return
		}
		cancel()
		if k.ctx.Err() != nil {
			return
		}
		k.logger.WarnContext(k.ctx, "fetching the JWKS failed; tokens that need its keys are refused with 503 until it answers",
			"url", k.url, "error", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-k.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, k.maxWait)
	}
}

// wait blocks until the first fetch succeeded (nil) or ctx ends (its
// error).
func (k *remoteKeys) wait(ctx context.Context) error {
	select {
	case <-k.loaded:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isLoaded reports whether the first fetch succeeded.
func (k *remoteKeys) isLoaded() bool {
	select {
	case <-k.loaded:
		return true
	default:
		return false
	}
}

// close stops the fetches and the background refresh, and waits for the
// first-fetch goroutine.
func (k *remoteKeys) close() {
	k.cancel()
	<-k.done
	if k.stopKF != nil {
		k.stopKF()
	}
	k.transport.CloseIdleConnections()
}

// key returns the key (or keys, without kid) of the set that may verify t:
// RSA or ECDSA keys only, of the token's algorithm, strong enough for
// checkKey (a JWKS may hold other keys, such as symmetric ones, which must
// never verify a token).
func (k *remoteKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
	if !k.isLoaded() {
		return nil, errKeysNotLoaded
	}
	found, err := k.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoKey, err)
	}
	var candidates []jwt.VerificationKey
	switch f := found.(type) {
	case jwt.VerificationKeySet:
		candidates = f.Keys
	default:
		candidates = []jwt.VerificationKey{f}
	}
	var set jwt.VerificationKeySet
	for _, c := range candidates {
		pk := publicKey{key: c}
		if checkKey(pk) == nil && pk.fits(t.Method.Alg(), "") {
			set.Keys = append(set.Keys, c)
		}
	}
	switch len(set.Keys) {
	case 0:
		return nil, errNoKey
	case 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// limitedBody cuts every response body at maxKeyFileSize: a JWKS is a few
// KB, and a larger answer fails to parse instead of filling memory.
type limitedBody struct{ rt http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (l limitedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxKeyFileSize), resp.Body}
	return resp, nil
}

package hub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
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
)

// remoteKeys are the keys of a JWKS URL, kept fresh by keyfunc (refreshed
// every jwksRefreshInterval, and on an unknown kid at most every
// jwksUnknownKIDInterval). A failed fetch keeps the keys known so far, so
// a JWKS server that is down stops no token signed with a known key.
type remoteKeys struct {
	kf        keyfunc.Keyfunc
	cancel    context.CancelFunc // ends the background refresh
	transport *http.Transport
}

// newRemoteKeys fetches the key set of url once (a failure is logged, not
// fatal: the hub starts, and the next refresh may succeed) and starts
// refreshing it in the background until close.
func newRemoteKeys(url string, logger *slog.Logger) (*remoteKeys, error) {
	ctx, cancel := context.WithCancel(context.Background())
	tr := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{Timeout: jwksFetchTimeout, Transport: limitedBody{tr}}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:            client,
		HTTPTimeout:       jwksFetchTimeout,
		RefreshInterval:   jwksRefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(jwksUnknownKIDInterval), 1),
		RateLimitWaitMax:  jwksWaitMax,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "fetching the JWKS failed; keeping the keys known so far", "url", u, "error", err)
			}
		},
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return &remoteKeys{kf: kf, cancel: cancel, transport: tr}, nil
}

// close stops the background refresh.
func (k *remoteKeys) close() {
	k.cancel()
	k.transport.CloseIdleConnections()
}

// key returns the key (or keys, without kid) of the set that may verify t:
// RSA or ECDSA keys only, of the token's algorithm, strong enough for
// checkKey (a JWKS may hold other keys, such as symmetric ones, which must
// never verify a token).
func (k *remoteKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
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

package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// Where a subscriber's token may come from. Browsers' EventSource cannot
// set headers, hence the cookie and the query parameter.
const (
	// TokenCookie is the cookie that may carry a subscriber's token.
	TokenCookie = "sse_token"
	// TokenQueryParam is the query parameter that may carry a
	// subscriber's token.
	TokenQueryParam = "access_token"
)

// Claims are the claims of an ssevents token: the registered JWT claims
// (exp is required unless Config.JWTAllowNoExp) and the topics the bearer may use.
type Claims struct {
	// SSE lists the topic patterns the bearer may use.
	SSE TopicClaims `json:"sse"`
	jwt.RegisteredClaims
}

// TopicClaims is the "sse" claim: topic patterns (exact names or * globs)
// the bearer may publish and subscribe to.
type TopicClaims struct {
	// Publish patterns: topics the bearer may publish to.
	Publish []string `json:"publish,omitempty"`
	// Subscribe patterns: topics the bearer may subscribe to.
	Subscribe []string `json:"subscribe,omitempty"`
}

// authenticatePublisher checks who may publish: with a JWT key, the bearer
// of a valid token (whose claims it returns); without one, loopback
// clients only (claims nil).
func (h *Hub) authenticatePublisher(r *http.Request) (*Claims, error) {
	if h.auth == nil {
		if !isLoopback(r) {
			return nil, fmt.Errorf("%w: publishing is accepted only from loopback until authentication is configured (SSE_JWT_SECRET, SSE_JWT_PUBLIC_KEY_FILE, SSE_JWT_JWKS_FILE or SSE_JWT_JWKS_URL)", sse.ErrForbidden)
		}
		if origin := r.Header.Get("Origin"); origin != "" && !isLoopbackOrigin(origin) {
			// A browser on this machine, running a page of another site
			// (perhaps one whose DNS name was rebound to 127.0.0.1).
			return nil, fmt.Errorf("%w: publishing from a web page is accepted only from a localhost page until authentication is configured", sse.ErrForbidden)
		}
		return nil, nil
	}
	tok, ok := bearerToken(r)
	if !ok {
		return nil, fmt.Errorf("%w: missing token: send Authorization: Bearer <token>", sse.ErrUnauthorized)
	}
	return h.auth.verify(r.Context(), tok)
}

// isLoopbackOrigin reports whether a browser's Origin is a page served from
// this machine: localhost or a loopback address.
func isLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// subscriberToken returns a subscriber's token: from the Authorization
// header, else the access_token query parameter, else the sse_token cookie.
func subscriberToken(r *http.Request) (string, bool) {
	if tok, ok := bearerToken(r); ok {
		return tok, true
	}
	if tok := r.URL.Query().Get(TokenQueryParam); tok != "" {
		return tok, true
	}
	if c, err := r.Cookie(TokenCookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// bearerChallenge is the WWW-Authenticate of the hub's 401s.
const bearerChallenge = `Bearer realm="ssevents"`

// authorizeSubscribe is the hub's ssevents.Authorizer, asked once per
// subscribe request: see the package documentation for the rules. Public
// topics are allowed as they are; the token, when the request has one, is
// verified once; the webhook is asked once, about the topics that neither
// are public nor the token granted. A denial names the first topic, in the
// request's order, that nothing granted; every 401 carries the Bearer
// challenge. When the token granted a topic, the stream ends at its exp
// (plus the leeway); when the webhook did, at its expires_in
// (ssevents.ExpireStreamAt).
func (h *Hub) authorizeSubscribe(r *http.Request, topics []string) error {
	if h.auth == nil && h.webhook == nil {
		return nil
	}
	var undecided []string // topics that are not public, nor granted yet
	for _, t := range topics {
		if !matchAny(h.cfg.PublicTopics, t) {
			undecided = append(undecided, t)
		}
	}
	if len(undecided) == 0 {
		h.identifyPublic(r)
		return nil
	}
	tok, hasToken := "", false
	if h.auth != nil {
		if tok, hasToken = subscriberToken(r); hasToken {
			claims, err := h.auth.verify(r.Context(), tok)
			if errors.Is(err, errKeysNotLoaded) {
				return ssevents.Unavailable(err) // 503: retry once the JWKS is fetched
			}
			if err != nil {
				return ssevents.WithChallenge(err, bearerChallenge)
			}
			n := len(undecided)
			undecided = slices.DeleteFunc(undecided, func(t string) bool { return matchAny(claims.SSE.Subscribe, t) })
			if len(undecided) < n && claims.ExpiresAt != nil {
				ssevents.ExpireStreamAt(r, claims.ExpiresAt.Add(h.cfg.JWTLeeway))
			}
			h.identify(r, tok, claims)
		}
	}
	switch {
	case len(undecided) == 0:
		return nil
	case h.webhook != nil:
		answer, err := h.webhook.authorize(r, undecided)
		if err != nil {
			return ssevents.WithChallenge(err, bearerChallenge)
		}
		ssevents.ExpireStreamAt(r, answer.expires)
		return nil
	case !hasToken:
		return ssevents.WithChallenge(fmt.Errorf("%w: missing token: send Authorization: Bearer <token>, the cookie %s or the query parameter %s", sse.ErrUnauthorized, TokenCookie, TokenQueryParam), bearerChallenge)
	}
	return fmt.Errorf("%w: the token may not subscribe to topic %q", sse.ErrForbidden, undecided[0])
}

// subscribeAuthorizer returns the core's Config.Authorize: the hub's
// checks, then next (the user's own Authorizer, when set) once they
// allowed every topic.
func (h *Hub) subscribeAuthorizer(next ssevents.Authorizer) ssevents.Authorizer {
	if next == nil {
		return h.authorizeSubscribe
	}
	return func(r *http.Request, topics []string) error {
		if err := h.authorizeSubscribe(r, topics); err != nil {
			return err
		}
		err := next(r, topics)
		if errors.Is(err, sse.ErrUnauthorized) {
			return ssevents.WithChallenge(err, bearerChallenge)
		}
		return err
	}
}

// authenticator verifies tokens with the configured keys.
type authenticator struct {
	parser *jwt.Parser
	secret []byte
	keys   []publicKey
	remote *remoteKeys // Config.JWTJWKSURL's keys, or nil
}

// newAuthenticator loads cfg's keys; it returns nil when no key is
// configured.
func newAuthenticator(cfg Config) (*authenticator, error) {
	a := &authenticator{}
	if cfg.JWTSecret != "" {
		a.secret = []byte(cfg.JWTSecret)
	}
	if cfg.JWTPublicKeyFile != "" {
		k, err := loadPEMFile(cfg.JWTPublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: SSE_JWT_PUBLIC_KEY_FILE: %w", sse.ErrInvalidConfig, err)
		}
		a.keys = append(a.keys, k)
	}
	if cfg.JWTJWKSFile != "" {
		ks, err := loadJWKSFile(cfg.JWTJWKSFile)
		if err != nil {
			return nil, fmt.Errorf("%w: SSE_JWT_JWKS_FILE: %w", sse.ErrInvalidConfig, err)
		}
		a.keys = append(a.keys, ks...)
	}
	if a.secret == nil && len(a.keys) == 0 && cfg.JWTJWKSURL == "" {
		return nil, nil
	}
	var methods []string
	if cfg.JWTJWKSURL != "" {
		remote, err := newRemoteKeys(cfg.JWTJWKSURL, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("%w: SSE_JWT_JWKS_URL: %w", sse.ErrInvalidConfig, err)
		}
		a.remote = remote
		methods = append(methods, "RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
	}
	if a.secret != nil {
		methods = append(methods, "HS256", "HS384", "HS512")
	}
	seen := map[string]bool{}
	for _, k := range a.keys {
		for _, m := range k.methods() {
			if !seen[m] {
				seen[m] = true
				methods = append(methods, m)
			}
		}
	}
	// iat is checked too: a token issued in the future (beyond the
	// leeway) comes from a signer whose clock is wrong, or was forged.
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithIssuedAt(), jwt.WithLeeway(cfg.JWTLeeway)}
	if !cfg.JWTAllowNoExp {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	if cfg.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
	}
	if cfg.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// verify parses and checks tok. Every failure wraps
// sse.ErrUnauthorized with a reason fit for the client, except
// errKeysNotLoaded (503) for a token that needs the keys of a JWKS URL
// not fetched yet.
func (a *authenticator) verify(ctx context.Context, tok string) (*Claims, error) {
	var c Claims
	keyFor := func(t *jwt.Token) (any, error) { return a.keyFor(ctx, t) }
	if _, err := a.parser.ParseWithClaims(tok, &c, keyFor); err != nil {
		if errors.Is(err, errKeysNotLoaded) {
			return nil, errKeysNotLoaded // a 503: the token is not known to be bad
		}
		return nil, fmt.Errorf("%w: %s", sse.ErrUnauthorized, tokenErrorText(err))
	}
	return &c, nil
}

// keyFor picks the key that verifies t: the secret for HMAC, else the
// public keys of the token's algorithm (and kid, when it has one), else
// those of the JWKS URL.
func (a *authenticator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
		if a.secret == nil {
			return nil, errNoKey
		}
		return a.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range a.keys {
		if k.fits(alg, kid) {
			set.Keys = append(set.Keys, k.key)
		}
	}
	switch len(set.Keys) {
	case 0:
		if a.remote != nil {
			return a.remote.key(ctx, t)
		}
		return nil, errNoKey
	case 1:
		return set.Keys[0], nil
	}
	return set, nil
}

var errNoKey = errors.New("no key for the token's algorithm and kid")

// tokenErrorText says why a token was refused, without internal detail.
func tokenErrorText(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token was issued in the future (iat): check the signer's clock"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		for _, claim := range []string{"exp", "aud", "iss"} {
			if strings.Contains(err.Error(), claim+" claim is required") {
				return "the token lacks the required " + claim + " claim"
			}
		}
		return "the token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token has the wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token has the wrong audience"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token's signature is invalid"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's algorithm or key id is not accepted"
	}
	return "the token is invalid"
}

// close stops refreshing the JWKS URL's keys; a nil authenticator is fine.
func (a *authenticator) close() {
	if a != nil && a.remote != nil {
		a.remote.close()
	}
}

package hub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
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
// (exp is required) and the topics the bearer may use.
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
			return nil, fmt.Errorf("%w: publishing is accepted only from loopback until authentication is configured (SSE_JWT_SECRET, SSE_JWT_PUBLIC_KEY_FILE or SSE_JWT_JWKS_FILE)", sse.ErrForbidden)
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
	return h.auth.verify(tok)
}

// isLoopback reports whether r comes straight from a loopback address. A
// request with a proxy's forwarding header does not: a reverse proxy on the
// same host would otherwise make every client look local.
func isLoopback(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
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

// authState is what one subscribe request's credentials allow, worked out
// once on the first topic and reused for the others. The SSE handler asks
// about topics one after another, so it needs no lock.
type authState struct {
	tokenChecked bool
	claims       *Claims
	tokenErr     error
	hasToken     bool

	hookChecked bool
	hook        webhookAnswer
	hookErr     error
}

type authStateKey struct{}

// withAuthState gives each request to next its own authState, and adds the
// Bearer challenge to a 401.
func (h *Hub) withAuthState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), authStateKey{}, &authState{})
		next.ServeHTTP(&challengeWriter{ResponseWriter: w}, r.WithContext(ctx))
	})
}

// challengeWriter adds WWW-Authenticate to a 401 written by the handler.
type challengeWriter struct{ http.ResponseWriter }

func (c *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", `Bearer realm="ssevents"`)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// authorizeSubscribe is the core's Config.Authorize: see the package
// documentation for the rules.
func (h *Hub) authorizeSubscribe(r *http.Request, topic string) (bool, error) {
	if matchAny(h.cfg.PublicTopics, topic) {
		return true, nil
	}
	if h.auth == nil && h.webhook == nil {
		return true, nil
	}
	st, _ := r.Context().Value(authStateKey{}).(*authState)
	if st == nil {
		st = &authState{} // the handler mounted elsewhere: no reuse across topics
	}
	if h.auth != nil {
		if !st.tokenChecked {
			st.tokenChecked = true
			var tok string
			if tok, st.hasToken = subscriberToken(r); st.hasToken {
				st.claims, st.tokenErr = h.auth.verify(tok)
			}
		}
		if st.tokenErr != nil {
			return false, st.tokenErr
		}
		if st.claims != nil && matchAny(st.claims.SSE.Subscribe, topic) {
			return true, nil
		}
	}
	if h.webhook != nil {
		if !st.hookChecked {
			st.hookChecked = true
			topics, err := ssevents.ParseTopics(r, 0)
			if err != nil {
				topics = []string{topic}
			}
			st.hook, st.hookErr = h.webhook.authorize(r, topics)
		}
		if st.hookErr != nil {
			return false, st.hookErr
		}
		return st.hook.allows(topic), nil
	}
	if !st.hasToken {
		return false, fmt.Errorf("%w: missing token: send Authorization: Bearer <token>, the cookie %s or the query parameter %s", sse.ErrUnauthorized, TokenCookie, TokenQueryParam)
	}
	return false, fmt.Errorf("%w: the token may not subscribe to topic %q", sse.ErrForbidden, topic)
}

// authenticator verifies tokens with the configured keys.
type authenticator struct {
	parser *jwt.Parser
	secret []byte
	keys   []publicKey
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
	if a.secret == nil && len(a.keys) == 0 {
		return nil, nil
	}
	var methods []string
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
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithExpirationRequired(), jwt.WithLeeway(cfg.JWTLeeway)}
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
// sse.ErrUnauthorized with a reason fit for the client.
func (a *authenticator) verify(tok string) (*Claims, error) {
	var c Claims
	if _, err := a.parser.ParseWithClaims(tok, &c, a.keyFor); err != nil {
		return nil, fmt.Errorf("%w: %s", sse.ErrUnauthorized, tokenErrorText(err))
	}
	return &c, nil
}

// keyFor picks the key that verifies t: the secret for HMAC, else the
// public keys of the token's algorithm (and kid, when it has one).
func (a *authenticator) keyFor(t *jwt.Token) (any, error) {
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
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
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

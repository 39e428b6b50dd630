// Package hub is the standalone ssevents server that `ssevents serve` runs:
// the SSE endpoint, health and metrics of an ssevents.App, plus a publish
// API, a live demo page, authentication with JWT or an authorization
// webhook, and CORS. It lets an application in any language publish and
// authorize events over HTTP.
//
// # Routes
//
//	GET  /                 demo page (Config.DisableDemo turns it off)
//	POST /publish          {"topic": "a" | "topics": ["a","b"], "event": "name", "data": <any JSON>}
//	                       -> 200 {"id": "..."}; 400 bad request, 401/403 credentials,
//	                          408 body too slow, 409 its Idempotency-Key in flight,
//	                          413 too large, 415 content type, 422 its Idempotency-Key
//	                          used for another request, 503 broker down (not
//	                          published), 504 outcome unknown; every error {"error": "..."}
//	GET  /events?topic=a,b the SSE stream (Config.Path)
//	GET  /position?topic=a,b
//	                       -> 200 {"position": "..."}, the stream position of the
//	                          topics now, for ?lastEventId= (see App.Position); to
//	                          those who may subscribe to them, 400/401/403 otherwise
//	GET  /ssevents.js      the browser client, @ssevents/client (clients/js)
//	GET  /health, /health/live, /health/ready, /metrics, /metrics/prometheus
//
// A publish body is a UTF-8 JSON document sent with Content-Type
// application/json (a charset parameter, when given, must be utf-8), or
// application/x-www-form-urlencoded, which `curl -d` sends, when the body
// is JSON all the same. Any other Content-Type, or none, is answered 415:
// a page of another site can post text/plain or an untyped body without a
// CORS preflight. Invalid UTF-8 anywhere in the body is 400 (it is not
// replaced with U+FFFD), and a body that has not arrived 30 s after the
// request is 408. "data" may be left out (null).
//
// # Who may subscribe
//
// A topic may be subscribed to when:
//
//   - it matches one of Config.PublicTopics (anonymous access), or
//   - no authentication is configured (a warning is logged at start), or
//   - a valid JWT grants it in its "sse.subscribe" patterns, or
//   - the authorization webhook allows it.
//
// A subscriber's token is read from the Authorization: Bearer header, else
// the access_token query parameter, else the sse_token cookie (browsers'
// EventSource cannot set headers). A request that needs a token and has
// none, or has an expired, malformed or wrongly signed one, is answered
// 401 with WWW-Authenticate: Bearer; one whose valid credentials do not
// grant a topic, 403 naming the first such topic in the request's order.
//
// These checks are one ssevents.Authorizer, asked once per subscribe
// request with all of its topics: the token is verified once and the
// webhook called at most once. A core Config.Authorize, when set, is asked
// next, once, with every topic, after the hub's checks allowed them all.
//
// # Who may publish
//
// With a JWT key configured, the bearer of a valid token (Authorization
// header only) whose "sse.publish" patterns match every topic. Without
// one, loopback clients only (see Client address): a request from a peer
// that is not a trusted proxy and carries X-Forwarded-For, Forwarded or
// X-Real-IP is not taken for a loopback one, since a reverse proxy on the
// same host would otherwise make every client look local.
//
// # Client address
//
// The client's address is the TCP peer's, unless the peer is in
// Config.TrustedProxies: then it is the right-most address of
// X-Forwarded-For that is not itself a trusted proxy, else X-Real-IP. It is
// what the webhook receives, what the logs show (the request's RemoteAddr
// becomes it), what the loopback-only publish rule checks, and what
// Config.PublishRate (without a token subject) and
// Config.MaxConnectionsPerIP count. Past either limit the hub answers 429
// Too Many Requests with Retry-After, counted in sse_rate_limited_total.
//
// # Tokens
//
// Tokens are JWTs signed with HS256/384/512 (Config.JWTSecret) or
// RS256/384/512 and ES256/384/512 (a PEM public key or certificate,
// Config.JWTPublicKeyFile; a JWKS file, Config.JWTJWKSFile; or a JWKS URL,
// Config.JWTJWKSURL; JWKS keys are chosen by the token's kid). A JWKS URL
// is fetched at start, in the background (New does not wait: until the
// first fetch succeeds, /health/ready answers 503 and a token only its
// keys could verify is answered 503, not 401; Hub.WaitKeys waits for it),
// then every 10 minutes, and when a token has a kid the set lacks (at most
// once a minute, so made-up kids cannot flood the identity provider); a
// failed fetch keeps the keys known so far. exp is
// required (unless Config.JWTAllowNoExp, SSE_JWT_REQUIRE_EXP=false); iat,
// when present, must not be later than now plus Config.JWTLeeway; iss and
// aud are checked when configured. The claims:
//
//	{"sub": "42", "exp": 1767225600,
//	 "sse": {"publish": ["workspace:42:*"], "subscribe": ["user:42", "workspace:42:*"]}}
//
// Patterns are exact names or globs where * matches any run of characters,
// colons included (see MatchTopic). `ssevents token` mints HS256 tokens
// for development.
//
// # Streams end when their credentials do
//
// A stream that a token granted ends at the token's exp plus
// Config.JWTLeeway; one that the webhook allowed with "expires_in", that
// many seconds after the webhook was asked (the earliest of the two when
// both apply). Its last event is
//
//	event: token_expired
//	data: {"exp": <unix seconds>}
//
// and the connection then closes: a browser's EventSource reconnects by
// itself (with the cookie, which the page has refreshed, or after the
// page's code reopened it with a new access_token), and the Go client
// reconnects with Config.TokenFunc's fresh token. token_expired is a
// reserved event name that publishers may not use.
//
// # Authorization webhook
//
// With Config.AuthorizeURL, when PublicTopics and the token do not grant
// every topic of a subscription, the hub asks the application once, about
// the subscription's topics that neither are public nor the token granted.
// It sends
//
//	POST <AuthorizeURL>
//	Content-Type: application/json
//	Cookie: <the subscriber's cookies>
//	Authorization: <the subscriber's header, or "Bearer <access_token>">
//	X-Forwarded-For: <the subscriber's address (see Client address)>
//
//	{"topics": ["a", "b"]}     (the topics asked about)
//
// and reads the answer strictly: only an explicit yes allows. A "topics"
// list in the answer that omits a topic asked about denies the whole
// request (403): a stream is never opened with fewer topics than asked.
//
//	answer                                         result   reason counted
//	2xx {"allow": true}                            allowed  -
//	2xx {"allow": true, "topics": [every topic]}   allowed  -
//	2xx {"allow": true, "topics": [...]} lacking   403 naming the first
//	    a topic asked about                        missing topic   topics
//	2xx {"allow": false}                           403      not_allowed
//	401                                            401      status
//	403                                            403      status
//	3xx (never followed)                           403      redirect
//	any other status                               403      status
//	2xx, body not JSON (an empty body included)    403      not_json
//	2xx, JSON of another shape: null, {}, [..],    403      shape
//	    {"authorized": false}, {"ok": false},
//	    "allow" not a JSON boolean, "topics" not
//	    a list of strings, "expires_in" not a
//	    number of seconds from 1 to a year
//	2xx, body over 64 KiB (never cut short)        403      too_large
//	no answer within Config.AuthorizeTimeout       403      timeout
//	the call failed (connection refused, ...)      403      error
//
// An allowing answer may add "expires_in": <seconds>, which ends the
// stream that long after the call (see above). Every denial is counted in
// the Prometheus counter sse_webhook_denials_total{reason}; failures (the
// rows other than allowed, not_allowed, topics, 401 and 403) are logged
// and answered "the authorization service did not answer". Allowing and
// denying answers (not failures) are cached for Config.AuthorizeCacheTTL
// per credentials and topics (hashed: no credential is kept in clear), and
// never past their expires_in.
//
// # Presence
//
// With Config.Presence (SSE_PRESENCE) set to topic patterns, the hub
// tracks who subscribes to matching topics: a stream's member is its
// token's sub, with the JSON object of the claim Config.PresenceInfoClaim
// (SSE_PRESENCE_INFO_CLAIM) names as info; a stream of public topics with
// a valid token is its sub's too, one without is anonymous. GET
// /presence?topic=T answers who is present to those who may subscribe to
// T, under the same rules as a subscription (see ssevents.Config.Presence
// for the events, the grace period and the webhook).
//
// # CORS
//
// Config.CORSOrigins lists the origins allowed to make cross-origin
// requests (with credentials), or "*" for any origin (without
// credentials). A preflight from another origin is answered 403. None are
// allowed by default. Answers to an allowed origin expose the SSE-Position
// header (ssevents.WithPosition), so that its pages can read it.
package hub

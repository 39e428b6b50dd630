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
//	                          408 body too slow, 413 too large, 415 content type,
//	                          503 broker down; every error {"error": "..."}
//	GET  /events?topic=a,b the SSE stream (Config.Path)
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
// one, loopback clients only: a request carrying X-Forwarded-For,
// Forwarded or X-Real-IP is not taken for a loopback one, since a reverse
// proxy on the same host would otherwise make every client look local.
//
// # Tokens
//
// Tokens are JWTs signed with HS256/384/512 (Config.JWTSecret) or
// RS256/384/512 and ES256/384/512 (a PEM public key or certificate,
// Config.JWTPublicKeyFile; or a JWKS file, Config.JWTJWKSFile, whose keys
// are chosen by the token's kid). exp is required; iss and aud are checked
// when configured. The claims:
//
//	{"sub": "42", "exp": 1767225600,
//	 "sse": {"publish": ["workspace:42:*"], "subscribe": ["user:42", "workspace:42:*"]}}
//
// Patterns are exact names or globs where * matches any run of characters,
// colons included (see MatchTopic). `ssevents token` mints HS256 tokens
// for development.
//
// # Authorization webhook
//
// With Config.AuthorizeURL, when PublicTopics and the token do not grant
// every topic of a subscription, the hub asks the application once, about
// all of the subscription's topics that are not public. It sends
//
//	POST <AuthorizeURL>
//	Content-Type: application/json
//	Cookie: <the subscriber's cookies>
//	Authorization: <the subscriber's header, or "Bearer <access_token>">
//	X-Forwarded-For: <the subscriber's address, after any the request had>
//
//	{"topics": ["a", "b"]}     (every topic of the request that is not public)
//
// and reads the answer:
//
//	2xx, empty body or {"allow": true}    every topic allowed
//	2xx, {"allow": true, "topics": [..]}  only the listed topics allowed
//	2xx, {"allow": false}                 denied (403)
//	401                                   not signed in (401)
//	403                                   denied (403)
//	anything else, or no answer within    denied (403), logged
//	Config.AuthorizeTimeout
//
// Answers other than failures are cached for Config.AuthorizeCacheTTL per
// credentials and topics (hashed: no credential is kept in clear).
//
// # CORS
//
// Config.CORSOrigins lists the origins allowed to make cross-origin
// requests (with credentials), or "*" for any origin (without
// credentials). A preflight from another origin is answered 403. None are
// allowed by default.
package hub

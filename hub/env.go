package hub

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/internal/settings"
)

// Setting declares one setting of the hub's Config: its SSE_* variable,
// flag, Go field, kind, default, allowed values and help.
type Setting = settings.Setting[Config]

// Settings declares every setting of the hub's Config, once: the core's
// (ssevents.Settings) followed by the hub's own. ApplyLookup reads them,
// Validate checks them, and `ssevents serve` has a flag for each, named
// after its variable (SSE_JWT_SECRET: --jwt-secret).
var Settings = append(settings.Lift(ssevents.Settings, func(c *Config) *ssevents.Config { return &c.Config }), ownSettings...)

// ownSettings are the settings of the hub beyond the core's.
var ownSettings = []Setting{
	settings.String(settings.Spec{Name: "SSE_JWT_SECRET", Field: "JWTSecret", Secret: true,
		Usage: "HS256 secret that verifies tokens", Allowed: fmt.Sprintf("at least %d bytes", MinJWTSecretLength), Check: checkSecret},
		func(c *Config) *string { return &c.JWTSecret }),
	settings.String(settings.Spec{Name: "SSE_JWT_PUBLIC_KEY_FILE", Field: "JWTPublicKeyFile",
		Usage:   "RSA or ECDSA public key that verifies RS256/ES256 tokens",
		Allowed: "path of a PEM file (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)"},
		func(c *Config) *string { return &c.JWTPublicKeyFile }),
	settings.String(settings.Spec{Name: "SSE_JWT_JWKS_FILE", Field: "JWTJWKSFile",
		Usage: "RSA and EC public keys that verify tokens, chosen by kid", Allowed: "path of a JWKS (JSON Web Key Set) file"},
		func(c *Config) *string { return &c.JWTJWKSFile }),
	settings.String(settings.Spec{Name: "SSE_JWT_JWKS_URL", Field: "JWTJWKSURL",
		Usage:   "JWKS of RSA and EC keys that verify tokens, chosen by kid; fetched in the background (not ready, its tokens answered 503, until the first fetch succeeds), then refreshed, and on an unknown kid",
		Allowed: "http:// or https:// URL", Check: checkWebhookURL},
		func(c *Config) *string { return &c.JWTJWKSURL }),
	settings.Bool(settings.Spec{Name: "SSE_JWT_REQUIRE_EXP", Field: "JWTAllowNoExp", Default: "true",
		Usage: "refuse tokens without exp (false: accept them; their streams never expire)"}, true,
		func(c *Config) *bool { return &c.JWTAllowNoExp }),
	settings.String(settings.Spec{Name: "SSE_JWT_ISSUER", Field: "JWTIssuer",
		Usage: "iss claim every token must carry", Allowed: "any string"},
		func(c *Config) *string { return &c.JWTIssuer }),
	settings.String(settings.Spec{Name: "SSE_JWT_AUDIENCE", Field: "JWTAudience",
		Usage: "value the aud claim of every token must hold", Allowed: "any string"},
		func(c *Config) *string { return &c.JWTAudience }),
	settings.Duration(settings.Spec{Name: "SSE_JWT_LEEWAY_SECONDS", Field: "JWTLeeway", Default: "0",
		Usage: "clock skew allowed on exp, nbf and iat", Min: 0, Max: 600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.JWTLeeway }),
	settings.String(settings.Spec{Name: "SSE_AUTHORIZE_URL", Field: "AuthorizeURL",
		Usage:   `authorization webhook asked about subscriptions (POST {"topics": [...]})`,
		Allowed: "http:// or https:// URL", Check: checkWebhookURL},
		func(c *Config) *string { return &c.AuthorizeURL }),
	settings.Duration(settings.Spec{Name: "SSE_AUTHORIZE_TIMEOUT_MS", Field: "AuthorizeTimeout",
		Default: strconv.Itoa(int(DefaultAuthorizeTimeout / time.Millisecond)),
		Usage:   "ms one webhook call may take before it denies", Min: 1, Max: 60_000, Unit: "ms"},
		func(c *Config) *time.Duration { return &c.AuthorizeTimeout }),
	settings.Duration(settings.Spec{Name: "SSE_AUTHORIZE_CACHE_SECONDS", Field: "AuthorizeCacheTTL",
		Default: strconv.Itoa(int(DefaultAuthorizeCacheTTL / time.Second)), OffAtZero: true,
		Usage: "seconds a webhook answer is reused for the same credentials and topics (0: no cache)", Min: 0, Max: 3600, Unit: "s"},
		func(c *Config) *time.Duration { return &c.AuthorizeCacheTTL }),
	settings.String(settings.Spec{Name: "SSE_PRESENCE_INFO_CLAIM", Field: "PresenceInfoClaim",
		Usage: "token claim whose JSON object (at most 1 KiB) is a member's info, shown to the others present", Allowed: "a claim name"},
		func(c *Config) *string { return &c.PresenceInfoClaim }),
	settings.List(settings.Spec{Name: "SSE_PUBLIC_TOPICS", Field: "PublicTopics",
		Usage:   "topics anyone may subscribe to without credentials",
		Allowed: "comma-separated topic patterns (* matches any run of characters)", Check: validatePattern},
		func(c *Config) *[]string { return &c.PublicTopics }),
	settings.List(settings.Spec{Name: "SSE_CORS_ORIGINS", Field: "CORSOrigins",
		Usage:   "origins allowed to make cross-origin requests",
		Allowed: "comma-separated origins (https://app.example.com) or *", Check: validateOrigin},
		func(c *Config) *[]string { return &c.CORSOrigins }),
	settings.Bool(settings.Spec{Name: "SSE_DEMO", Field: "DisableDemo", Default: "true",
		Usage: "serve the demo page at /"}, true,
		func(c *Config) *bool { return &c.DisableDemo }),
	settings.List(settings.Spec{Name: "SSE_TRUSTED_PROXIES", Field: "TrustedProxies",
		Usage:   "reverse proxies whose X-Forwarded-For or X-Real-IP names the client",
		Allowed: "comma-separated CIDRs (10.0.0.0/8, fd00::/8) or IP addresses", Check: checkTrustedProxy},
		func(c *Config) *[]string { return &c.TrustedProxies }),
	settings.Int(settings.Spec{Name: "SSE_PUBLISH_RATE", Field: "PublishRate", Default: "0",
		Usage: "publishes per second per token subject (without a token: per client address), in bursts of as many (0: no limit)",
		Min:   0, Max: 1_000_000},
		func(c *Config) *int { return &c.PublishRate }),
	settings.Int(settings.Spec{Name: "SSE_MAX_CONNECTIONS_PER_IP", Field: "MaxConnectionsPerIP", Default: "0",
		Usage: "streams one client address may have open at once (0: no limit)", Min: 0, Max: 1_000_000},
		func(c *Config) *int { return &c.MaxConnectionsPerIP }),
	settings.Int(settings.Spec{Name: "SSE_IPV6_PREFIX_BITS", Field: "IPv6PrefixBits", Default: strconv.Itoa(DefaultIPv6PrefixBits),
		Usage: "leading bits of an IPv6 client address that the per-address limits count as one client (IPv4: each address)",
		Min:   1, Max: 128, Unit: "bits"},
		func(c *Config) *int { return &c.IPv6PrefixBits }),
}

// checkSecret accepts an HS256 secret of at least MinJWTSecretLength bytes
// (RFC 7518 section 3.2); its message never shows the secret.
func checkSecret(s string) error {
	if len(s) < MinJWTSecretLength {
		return fmt.Errorf("is %d bytes, want at least %d bytes (RFC 7518)", len(s), MinJWTSecretLength)
	}
	return nil
}

// checkWebhookURL accepts an http:// or https:// URL (the webhook's, the
// JWKS's).
func checkWebhookURL(u string) error {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("want an http:// or https:// URL")
	}
	return nil
}

// ApplyLookup sets the fields of c for which lookup has a non-empty SSE_*
// variable (every one in Settings), leaving the others as they are. An
// invalid value is an error naming the variable and its allowed values.
func (c *Config) ApplyLookup(lookup func(string) (string, bool)) error {
	return settings.ApplyLookup(c, Settings, lookup)
}

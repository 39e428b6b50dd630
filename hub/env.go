package hub

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// Setting describes one SSE_* environment variable of the hub (beyond the
// core ones in ssevents.EnvVars) that ApplyLookup reads.
type Setting struct {
	// Name of the variable, e.g. "SSE_JWT_SECRET".
	Name string
	// Allowed describes the accepted values.
	Allowed string
	// Default is the value used when the variable is unset.
	Default string
	// Usage says what it sets.
	Usage string
	set   func(c *Config, v string) error
}

func stringSetting(name, allowed, usage string, f func(*Config) *string) Setting {
	return Setting{Name: name, Allowed: allowed, Usage: usage, Default: "none",
		set: func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil }}
}

func intSetting(name string, lo, hi int, def, usage string, set func(*Config, int)) Setting {
	return Setting{Name: name, Allowed: fmt.Sprintf("integer %d to %d", lo, hi), Default: def, Usage: usage,
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < lo || n > hi {
				return fmt.Errorf("%w: %s=%q: want an integer from %d to %d", sse.ErrInvalidConfig, name, v, lo, hi)
			}
			set(c, n)
			return nil
		}}
}

// Settings lists the hub's variables, with their allowed values and
// defaults. `ssevents serve` has a flag for each, named after it
// (SSE_JWT_SECRET: --jwt-secret).
var Settings = []Setting{
	{Name: "SSE_JWT_SECRET", Allowed: fmt.Sprintf("at least %d bytes", MinJWTSecretLength), Default: "none",
		Usage: "HS256 secret that verifies tokens",
		set: func(c *Config, v string) error {
			if len(v) < MinJWTSecretLength {
				return fmt.Errorf("%w: SSE_JWT_SECRET is %d bytes: want at least %d (RFC 7518)", sse.ErrInvalidConfig, len(v), MinJWTSecretLength)
			}
			c.JWTSecret = v
			return nil
		}},
	stringSetting("SSE_JWT_PUBLIC_KEY_FILE", "path of a PEM file (PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)",
		"RSA or ECDSA public key that verifies RS256/ES256 tokens", func(c *Config) *string { return &c.JWTPublicKeyFile }),
	stringSetting("SSE_JWT_JWKS_FILE", "path of a JWKS (JSON Web Key Set) file",
		"RSA and EC public keys that verify tokens, chosen by kid", func(c *Config) *string { return &c.JWTJWKSFile }),
	stringSetting("SSE_JWT_ISSUER", "any string", "iss claim every token must carry", func(c *Config) *string { return &c.JWTIssuer }),
	stringSetting("SSE_JWT_AUDIENCE", "any string", "value the aud claim of every token must hold", func(c *Config) *string { return &c.JWTAudience }),
	intSetting("SSE_JWT_LEEWAY_SECONDS", 0, 600, "0", "clock skew allowed on exp, nbf and iat",
		func(c *Config, n int) { c.JWTLeeway = time.Duration(n) * time.Second }),
	{Name: "SSE_AUTHORIZE_URL", Allowed: "http:// or https:// URL", Default: "none",
		Usage: "authorization webhook asked about subscriptions (POST {\"topics\": [...]})",
		set: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
				return fmt.Errorf("%w: SSE_AUTHORIZE_URL=%q: want an http:// or https:// URL", sse.ErrInvalidConfig, v)
			}
			c.AuthorizeURL = v
			return nil
		}},
	intSetting("SSE_AUTHORIZE_TIMEOUT_MS", 1, 60_000, strconv.Itoa(int(DefaultAuthorizeTimeout/time.Millisecond)),
		"ms one webhook call may take before it denies",
		func(c *Config, n int) { c.AuthorizeTimeout = time.Duration(n) * time.Millisecond }),
	intSetting("SSE_AUTHORIZE_CACHE_SECONDS", 0, 3600, strconv.Itoa(int(DefaultAuthorizeCacheTTL/time.Second)),
		"seconds a webhook answer is reused for the same credentials and topics (0: no cache)",
		func(c *Config, n int) {
			c.AuthorizeCacheTTL = time.Duration(n) * time.Second
			if n == 0 {
				c.AuthorizeCacheTTL = -1
			}
		}),
	{Name: "SSE_PUBLIC_TOPICS", Allowed: "comma-separated topic patterns (* matches any run of characters)", Default: "none",
		Usage: "topics anyone may subscribe to without credentials",
		set: func(c *Config, v string) error {
			ps := ssevents.SplitTopics(v)
			for _, p := range ps {
				if err := validatePattern(p); err != nil {
					return fmt.Errorf("%w: SSE_PUBLIC_TOPICS: %w", sse.ErrInvalidConfig, err)
				}
			}
			c.PublicTopics = ps
			return nil
		}},
	{Name: "SSE_CORS_ORIGINS", Allowed: "comma-separated origins (https://app.example.com) or *", Default: "none",
		Usage: "origins allowed to make cross-origin requests",
		set: func(c *Config, v string) error {
			origins := ssevents.SplitTopics(v)
			for _, o := range origins {
				if err := validateOrigin(o); err != nil {
					return fmt.Errorf("%w: SSE_CORS_ORIGINS: %w", sse.ErrInvalidConfig, err)
				}
			}
			c.CORSOrigins = origins
			return nil
		}},
	{Name: "SSE_DEMO", Allowed: "true or false", Default: "true", Usage: "serve the demo page at /",
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%w: SSE_DEMO=%q: want true or false", sse.ErrInvalidConfig, v)
			}
			c.DisableDemo = !b
			return nil
		}},
}

// ApplyLookup sets the fields of c for which lookup has an SSE_* variable
// (the core's ssevents.EnvVars and the hub's Settings), leaving the others
// as they are. An invalid value is an error naming the variable and its
// allowed values.
func (c *Config) ApplyLookup(lookup func(string) (string, bool)) error {
	if err := c.Config.ApplyLookup(lookup); err != nil {
		return err
	}
	for _, s := range Settings {
		v, ok := lookup(s.Name)
		if !ok || v == "" {
			continue
		}
		if err := s.set(c, v); err != nil {
			return err
		}
	}
	return nil
}

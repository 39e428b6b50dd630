package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// maxTokenTTL bounds --ttl: a development token should not live forever.
const maxTokenTTL = 366 * 24 * time.Hour

// runToken is `ssevents token`: it prints an HS256 token for development,
// signed with --secret (or SSE_JWT_SECRET), granting the --publish and
// --subscribe topic patterns.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return RunToken(args, os.LookupEnv, time.Now(), stdout, stderr)
}

// RunToken is the token command with its environment (lookup) and clock
// (now) passed in, for tests.
func RunToken(args []string, lookup func(string) (string, bool), now time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "HS256 secret, at least 32 bytes")
	sub := fs.String("sub", "", "subject (sub claim), e.g. a user id")
	publish := fs.String("publish", "", "comma-separated topic patterns the token may publish to, e.g. 'a,b:*'")
	subscribe := fs.String("subscribe", "", "comma-separated topic patterns the token may subscribe to")
	ttl := durationFlag(fs, "ttl", time.Hour, "lifetime of the token (exp claim), up to 366 days")
	iss := fs.String("iss", "", "issuer (iss claim)")
	aud := fs.String("aud", "", "audience (aud claim)")
	info := fs.String("info", "", `presence info shown to others: a JSON object of at most 1 KiB, e.g. '{"name":"Ann"}'`)
	infoClaim := fs.String("info-claim", "", "claim that carries --info (info when neither the flag nor the variable is set)")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: ssevents token --secret S [--sub ID] [--publish 'a,b:*'] [--subscribe 'c'] [--ttl 1h] [--info '{\"name\":\"Ann\"}']")
		_, _ = fmt.Fprintln(stderr, "\nPrints an HS256 JWT for a hub started with the same SSE_JWT_SECRET.")
		_, _ = fmt.Fprintln(stderr, "Patterns are exact topics or globs where * matches any run of characters.")
		_, _ = fmt.Fprintln(stderr, "\nflags:")
		printFlags(stderr, fs, nil)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fromEnv := func(v *string, name string) {
		if *v == "" {
			*v, _ = lookup(name)
		}
	}
	fromEnv(secret, "SSE_JWT_SECRET")
	fromEnv(iss, "SSE_JWT_ISSUER")
	fromEnv(aud, "SSE_JWT_AUDIENCE")
	fromEnv(infoClaim, "SSE_PRESENCE_INFO_CLAIM")
	if *infoClaim == "" {
		*infoClaim = "info"
	}
	switch {
	case *secret == "":
		return asUsage(errors.New("token: give --secret or set SSE_JWT_SECRET (see ssevents token -h)"))
	case len(*secret) < hub.MinJWTSecretLength:
		return asUsage(fmt.Errorf("token: the secret is %d bytes, want at least %d", len(*secret), hub.MinJWTSecretLength))
	case *ttl <= 0 || *ttl > maxTokenTTL:
		return asUsage(fmt.Errorf("token: --ttl %v: want more than 0 and at most %v", *ttl, maxTokenTTL))
	}
	claims := hub.Claims{
		SSE: hub.TopicClaims{Publish: ssevents.SplitTopics(*publish), Subscribe: ssevents.SplitTopics(*subscribe)},
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   *sub,
			Issuer:    *iss,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(*ttl)),
		},
	}
	if *aud != "" {
		claims.Audience = jwt.ClaimStrings{*aud}
	}
	for _, p := range append(append([]string(nil), claims.SSE.Publish...), claims.SSE.Subscribe...) {
		if err := sse.ValidateTopic(strings.ReplaceAll(p, "*", "x")); p != "*" && err != nil {
			return asUsage(fmt.Errorf("token: topic pattern %q: %w", p, bare(err)))
		}
	}
	if len(claims.SSE.Publish)+len(claims.SSE.Subscribe) == 0 {
		_, _ = fmt.Fprintln(stderr, "token: warning: no --publish or --subscribe patterns: the token grants no topic")
	}
	signed, err := withInfo(claims, *infoClaim, *info)
	if err != nil {
		return err
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, signed).SignedString([]byte(*secret))
	if err != nil {
		return fmt.Errorf("token: %w", bare(err))
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// withInfo returns claims with the presence info under the claim name, or
// claims as they are without info.
func withInfo(claims hub.Claims, name, info string) (jwt.Claims, error) {
	if info == "" {
		return claims, nil
	}
	if err := sse.ValidatePresenceInfo(json.RawMessage(info)); err != nil {
		return nil, asUsage(fmt.Errorf("token: --info: %w", bare(err)))
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	var m jwt.MapClaims
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if _, taken := m[name]; taken {
		return nil, asUsage(fmt.Errorf("token: --info-claim %q is a claim the token already has", name))
	}
	m[name] = json.RawMessage(info)
	return m, nil
}

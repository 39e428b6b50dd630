package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = strings.Repeat("k", MinUserSecretLength)

func TestUserTokens(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tokens := newUserTokens(Users{Count: 4, Secret: testSecret, Subscribe: []string{"bench-x-*"}, Issuer: "iss1"}, now)
	var wg sync.WaitGroup
	got := make([]string, 10)
	for j := range got {
		wg.Go(func() {
			tok, err := tokens.tokenFunc(context.WithValue(t.Context(), streamKey{}, j))
			if err != nil {
				t.Errorf("token of stream %d: %v", j, err)
			}
			got[j] = tok
		})
	}
	wg.Wait()
	for j, tok := range got {
		claims := jwt.MapClaims{}
		if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("iss1")); err != nil {
			t.Fatalf("token of stream %d does not verify: %v", j, err)
		}
		if sub, _ := claims.GetSubject(); sub != fmt.Sprintf("user-%d", j%4) {
			t.Errorf("stream %d: sub %q, want user-%d", j, sub, j%4)
		}
		sse, _ := claims["sse"].(map[string]any)
		if sub, _ := sse["subscribe"].([]any); len(sub) != 1 || sub[0] != "bench-x-*" {
			t.Errorf("stream %d: sse claim %v, want subscribe [bench-x-*]", j, claims["sse"])
		}
		if exp, _ := claims.GetExpirationTime(); exp == nil || exp.Before(now.Add(time.Hour)) {
			t.Errorf("stream %d: expires %v, want a day", j, exp)
		}
		// One token per user, minted once: streams j and j+4 share it.
		if j >= 4 && tok != got[j-4] {
			t.Errorf("streams %d and %d (one user) got different tokens", j-4, j)
		}
	}
	if _, err := tokens.tokenFunc(t.Context()); err == nil {
		t.Error("a request without a stream index got a token")
	}
}

func TestExpectedPresence(t *testing.T) {
	t.Parallel()
	// 10 streams, the last 2 on the big topic, 3 topics, 4 users: topic 0
	// has streams 0, 3, 6 (users 0, 3, 2), topic 1 streams 1, 4, 7 (users
	// 1, 0, 3), topic 2 streams 2, 5 (users 2, 1); the big topic streams
	// 8, 9 (users 0, 1).
	per, big := ExpectedPresence(10, 2, 3, 4)
	if want := []TopicCount{{3, 3}, {3, 3}, {2, 2}}; !slices.Equal(per, want) {
		t.Errorf("per topic %v, want %v", per, want)
	}
	if want := (TopicCount{2, 2}); big != want {
		t.Errorf("big topic %v, want %v", big, want)
	}
	// The run: 100,000 streams, 10,000 of them on the big topic,
	// 100 topics, 10,000 users: 100 users with 9 streams each per topic,
	// and every user once on the big topic.
	per, big = ExpectedPresence(100_000, 10_000, 100, 10_000)
	for k, c := range per {
		if c != (TopicCount{100, 900}) {
			t.Fatalf("topic %d: %v, want 100 users, 900 streams", k, c)
		}
	}
	if big != (TopicCount{10_000, 10_000}) {
		t.Errorf("big topic %v, want 10,000 users, 10,000 streams", big)
	}
}

package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// userTokenTTL is the lifetime of the tokens minted for the run's users:
// longer than any run (connect phase, MaxDuration, drain), since a stream
// whose token expired would reconnect with the same cached token and fail.
const userTokenTTL = 24 * time.Hour

// MinUserSecretLength is the shortest HS256 secret Config.UserSecret may
// be, as the hub's SSE_JWT_SECRET (hub.MinJWTSecretLength).
const MinUserSecretLength = 32

// Users describes the distinct users of a run: subscription j (run-wide
// index) authenticates with an HS256 token of its own whose sub is
// "user-<j mod Count>", signed with Secret and granting Subscribe, so that
// presence counts Count distinct users across the run's streams.
type Users struct {
	// Count is the number of distinct users; 0 means none (every stream
	// uses the run's Token).
	Count int `json:"count"`
	// Secret is the hub's HS256 secret (SSE_JWT_SECRET).
	Secret string `json:"secret"`
	// Subscribe are the topic patterns the tokens grant.
	Subscribe []string `json:"subscribe"`
	// Issuer and Audience, when set, go into the iss and aud claims, for
	// a hub that checks them (SSE_JWT_ISSUER, SSE_JWT_AUDIENCE).
	Issuer   string `json:"issuer,omitempty"`
	Audience string `json:"audience,omitempty"`
}

// UserName returns the sub of subscription j's token with n users.
func UserName(j, n int) string { return fmt.Sprintf("user-%d", j%n) }

// userTokens mints each user's token once, on first use, and keeps it: a
// process holds at most PerProcess streams, hence at most that many tokens.
// It is safe for concurrent use.
type userTokens struct {
	u   Users
	now time.Time

	mu     sync.Mutex
	tokens map[int]string // user index -> token
}

func newUserTokens(u Users, now time.Time) *userTokens {
	return &userTokens{u: u, now: now, tokens: map[int]string{}}
}

// token returns the token of subscription j.
func (t *userTokens) token(j int) (string, error) {
	user := j % t.u.Count
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok, ok := t.tokens[user]; ok {
		return tok, nil
	}
	claims := jwt.MapClaims{
		"sub": UserName(user, t.u.Count),
		"iat": t.now.Unix(),
		"exp": t.now.Add(userTokenTTL).Unix(),
		"sse": map[string][]string{"subscribe": t.u.Subscribe},
	}
	if t.u.Issuer != "" {
		claims["iss"] = t.u.Issuer
	}
	if t.u.Audience != "" {
		claims["aud"] = t.u.Audience
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(t.u.Secret))
	if err != nil {
		return "", fmt.Errorf("bench: minting the token of %s: %w", UserName(user, t.u.Count), err)
	}
	t.tokens[user] = tok
	return tok, nil
}

// streamKey carries a subscription's run-wide index in its context, for
// the client's TokenFunc.
type streamKey struct{}

// tokenFunc is a client TokenFunc that answers the token of the
// subscription whose index its context carries.
func (t *userTokens) tokenFunc(ctx context.Context) (string, error) {
	j, ok := ctx.Value(streamKey{}).(int)
	if !ok {
		return "", fmt.Errorf("bench: a request without its subscription's index")
	}
	return t.token(j)
}

// TopicCount is the exact presence of one topic: distinct users and
// streams.
type TopicCount struct {
	Users       int `json:"users"`
	Connections int `json:"connections"`
}

// ExpectedPresence returns what presence should count once every stream of
// a run is open: per regular topic (streams j < conns-big follow topic
// j % topics) and for the big topic (the last big streams), the distinct
// users (user j % users) and the streams.
func ExpectedPresence(conns, big, topics, users int) (perTopic []TopicCount, bigTopic TopicCount) {
	perTopic = make([]TopicCount, topics)
	seen := make([]map[int]struct{}, topics)
	for i := range seen {
		seen[i] = map[int]struct{}{}
	}
	bigSeen := map[int]struct{}{}
	for j := range conns {
		if j >= conns-big {
			bigSeen[j%users] = struct{}{}
			bigTopic.Connections++
			continue
		}
		k := j % topics
		seen[k][j%users] = struct{}{}
		perTopic[k].Connections++
	}
	for k := range perTopic {
		perTopic[k].Users = len(seen[k])
	}
	bigTopic.Users = len(bigSeen)
	return perTopic, bigTopic
}

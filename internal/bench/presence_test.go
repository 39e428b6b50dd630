package bench

import (
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/hub"
)

// startPresenceHub serves the real hub with JWT authentication (testSecret)
// and presence on every topic (the embedded broker's store), and returns
// its app with a token that may publish and subscribe to every topic.
func startPresenceHub(t *testing.T) (*ssevents.App, *httptest.Server, string) {
	t.Helper()
	h, err := hub.New(hub.Config{JWTSecret: testSecret,
		Config: ssevents.Config{Logger: slog.New(slog.DiscardHandler), Presence: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = h.Close() })
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "bench",
		"exp": time.Now().Add(time.Hour).Unix(), "sse": map[string][]string{"publish": {"*"}, "subscribe": {"*"}}}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return h.App(), srv, tok
}

func TestRunPresence(t *testing.T) {
	t.Parallel()
	app, srv, tok := startPresenceHub(t)
	// 40 streams over 3 worker processes (15, 15, 10): streams 0-29 on 3
	// topics, 30-39 on the big topic; 12 users.
	rep, err := Run(t.Context(), Config{
		URL: srv.URL, Token: tok, Conns: 40, Rate: 20, Duration: time.Second, Topics: 3,
		PerProcess: 15, Spawn: pipeSpawn, BigTopic: 10, Presence: true, PresenceCalls: 30,
		Users: Users{Count: 12, Secret: testSecret},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Workers != 3 || rep.Connected != 40 || rep.Lost != 0 || rep.Received == 0 {
		t.Fatalf("%d workers, %d connected, %d received, %d lost; want 3, 40, some, none", rep.Workers, rep.Connected, rep.Received, rep.Lost)
	}
	// Each of the 3 topics has 10 streams; events go there only.
	if rep.Published > 0 && rep.Expected != uint64(rep.Published)*10 {
		t.Errorf("expected %d deliveries for %d events, want 10 each", rep.Expected, rep.Published)
	}
	p := rep.Presence
	if p == nil {
		t.Fatal("no presence report")
	}
	per, big := ExpectedPresence(40, 10, 3, 12)
	members := big.Users
	for _, c := range per {
		members += c.Users
	}
	if !p.Settled || p.Unsettled != 0 || p.Topics != 4 || p.Members != members || p.Streams != 40 {
		t.Errorf("presence %+v: want settled, 4 topics, %d members, 40 streams", p, members)
	}
	if p.LastConnectMs == 0 || p.SettleMs < 0 || p.SettleMs > 10_000 || rep.PublishStartMs-p.SettledAtMs < presenceHold.Milliseconds() {
		t.Errorf("settled %v ms after the last connect (at %d, publishing from %d), want a time at least %v before publishing",
			p.SettleMs, p.SettledAtMs, rep.PublishStartMs, presenceHold)
	}
	if p.Calls != 30 || p.CallErrors != 0 || p.CallTopicUsers != 10 || p.P50Ms <= 0 || p.P99Ms < p.P50Ms {
		t.Errorf("calls %d (%d errors) on %s (%d users): p50 %v, p99 %v; want 30 without errors on the big topic of 10",
			p.Calls, p.CallErrors, p.CallTopic, p.CallTopicUsers, p.P50Ms, p.P99Ms)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "every count exact") || !strings.Contains(text.String(), "30 calls (limit 100)") {
		t.Errorf("text report (%v) without the presence lines:\n%s", err, text.String())
	}
	// Stream j was user j % 12, whichever worker held it: the big topic
	// (streams 30-39) had users 6-11 and 0-3, topic 0 (streams 0, 3, ...,
	// 27) users 0, 3, 6, 9. The streams ended, but their members stay
	// listed for the grace period.
	for _, tc := range []struct {
		topic   string
		streams []int
	}{
		{p.CallTopic, []int{30, 31, 32, 33, 34, 35, 36, 37, 38, 39}},
		{p.CallTopic[:len(p.CallTopic)-len("big")] + "0", []int{0, 3, 6, 9, 12, 15, 18, 21, 24, 27}},
	} {
		var want []string
		for _, j := range tc.streams {
			if u := UserName(j, 12); !slices.Contains(want, u) {
				want = append(want, u)
			}
		}
		slices.Sort(want)
		snap, err := app.Presence(t.Context(), tc.topic)
		var got []string
		for _, m := range snap.Members {
			got = append(got, m.User)
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("users of %s %v (%v), want %v", tc.topic, got, err, want)
		}
	}
}

func TestRunPresenceUntracked(t *testing.T) {
	t.Parallel()
	srv := startHub(t) // no presence, anonymous streams: user tokens are ignored
	rep, err := Run(t.Context(), Config{URL: srv.URL, Conns: 4, Rate: 10, Duration: 200 * time.Millisecond,
		Presence: true, Users: Users{Count: 2, Secret: testSecret}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := rep.Presence; p == nil || p.Settled || p.Calls != 0 || p.Note == "" {
		t.Errorf("presence %+v: want not settled, no calls, a note that the topics are not tracked", p)
	}
}

package hub_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// hs256 signs claims with testSecret.
func hs256(t *testing.T, c hub.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// readUntilExpired reads the stream of resp until its token_expired event
// and checks that the stream then ends; it returns the event's exp.
func readUntilExpired(t *testing.T, resp *http.Response) int64 {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	p := wire.NewParser(resp.Body)
	for {
		ev, err := p.Next()
		if err != nil {
			t.Fatalf("stream ended without token_expired: %v", err)
		}
		if ev.Name != sse.EventTokenExpired {
			continue
		}
		var data struct {
			Exp int64 `json:"exp"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &data); err != nil {
			t.Fatalf("token_expired data %q: %v", ev.Data, err)
		}
		if _, err := p.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("after token_expired: %v, want the end of the stream", err)
		}
		return data.Exp
	}
}

// TestTokenExp_endsStream checks that a stream opened with a token ends at
// its exp plus the leeway, with token_expired carrying that time.
func TestTokenExp_endsStream(t *testing.T) {
	t.Parallel()
	for _, leeway := range []time.Duration{0, time.Second} {
		t.Run("leeway "+leeway.String(), func(t *testing.T) {
			t.Parallel()
			h := newHub(t, hub.Config{JWTSecret: testSecret, JWTLeeway: leeway})
			c := hub.Claims{SSE: hub.TopicClaims{Subscribe: []string{"a"}}}
			exp := time.Now().Add(1500 * time.Millisecond).Truncate(time.Second)
			c.ExpiresAt = jwt.NewNumericDate(exp)
			got := readUntilExpired(t, subscribe(t, h, "/events?topic=a&access_token="+hs256(t, c)))
			end := exp.Add(leeway)
			if got != end.Unix() {
				t.Errorf("token_expired exp %d, want %d", got, end.Unix())
			}
			if time.Now().Before(end) {
				t.Errorf("stream ended before exp + leeway")
			}
		})
	}
}

// TestWebhookExpiresIn_endsStream checks that a webhook answer's
// expires_in ends the stream it allowed.
func TestWebhookExpiresIn_endsStream(t *testing.T) {
	t.Parallel()
	h := startAnsweringWebhook(t, webhookAnswer{status: http.StatusOK, body: `{"allow": true, "expires_in": 1}`})
	start := time.Now()
	got := readUntilExpired(t, subscribe(t, h, "/events?topic=a"))
	if took := time.Since(start); took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("the stream ended after %v, want about 1 s", took)
	}
	if want := start.Add(time.Second).Unix(); got < want-1 || got > want+1 {
		t.Errorf("token_expired exp %d, want about %d", got, want)
	}
}

// TestJWT_iatAndExpRequired checks iat against the leeway and the
// SSE_JWT_REQUIRE_EXP setting.
func TestJWT_iatAndExpRequired(t *testing.T) {
	t.Parallel()
	now := time.Now()
	claims := func(iat, exp time.Duration) hub.Claims {
		c := hub.Claims{SSE: hub.TopicClaims{Subscribe: []string{"a"}}}
		if iat != 0 {
			c.IssuedAt = jwt.NewNumericDate(now.Add(iat))
		}
		if exp != 0 {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(exp))
		}
		return c
	}
	tests := []struct {
		name   string
		cfg    hub.Config
		claims hub.Claims
		status int
		want   string
	}{
		{"iat in the past", hub.Config{}, claims(-time.Minute, time.Hour), 200, ""},
		{"iat in the future", hub.Config{}, claims(2*time.Minute, time.Hour), 401, "issued in the future"},
		{"iat in the future within the leeway", hub.Config{JWTLeeway: 5 * time.Minute}, claims(2*time.Minute, time.Hour), 200, ""},
		{"iat in the future beyond the leeway", hub.Config{JWTLeeway: time.Minute}, claims(2*time.Minute, time.Hour), 401, "issued in the future"},
		{"no exp: refused by default", hub.Config{}, claims(0, 0), 401, "lacks the required exp claim"},
		{"no exp: accepted with JWTAllowNoExp", hub.Config{JWTAllowNoExp: true}, claims(0, 0), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.JWTSecret = testSecret
			h := newHub(t, tt.cfg)
			path := "/events?topic=a&access_token=" + hs256(t, tt.claims)
			if tt.status == http.StatusOK {
				if resp := subscribe(t, h, path); resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				return
			}
			wantAnswer(t, serve(t, h, httptest.NewRequest(http.MethodGet, path, nil), "192.0.2.1:1"), tt.status, tt.want)
		})
	}
}

// TestRequireExpSetting checks SSE_JWT_REQUIRE_EXP=false.
func TestRequireExpSetting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  bool
	}{{"", false}, {"true", false}, {"false", true}} {
		var c hub.Config
		err := c.ApplyLookup(func(k string) (string, bool) {
			if k == "SSE_JWT_REQUIRE_EXP" && tt.value != "" {
				return tt.value, true
			}
			return "", false
		})
		if err != nil || c.JWTAllowNoExp != tt.want {
			t.Errorf("SSE_JWT_REQUIRE_EXP=%q: JWTAllowNoExp %v (%v), want %v", tt.value, c.JWTAllowNoExp, err, tt.want)
		}
	}
}

package ssevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// TestExpireStreamAt_endsStream checks that a stream whose Authorizer
// recorded an expiry ends at it (the earliest one when several were
// recorded) with a token_expired event carrying the expiry, and that a
// stream without one stays open.
func TestExpireStreamAt_endsStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		after  []time.Duration // expiries recorded, from now; none: no expiry
		wantAt time.Duration   // 0: the stream stays open
	}{
		{"no expiry", nil, 0},
		{"one expiry", []time.Duration{30 * time.Second}, 30 * time.Second},
		{"earliest of several", []time.Duration{time.Minute, 20 * time.Second, 40 * time.Second}, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				cfg := ssevents.Config{Authorize: func(r *http.Request, _ []string) error {
					for _, d := range tc.after {
						ssevents.ExpireStreamAt(r, start.Add(d))
					}
					return nil
				}}
				app, rec, stop := serveInBubble(t, cfg, "topic=a")
				defer stop()
				synctest.Wait()
				if _, err := app.Publish(context.Background(), "a", "e", 1); err != nil {
					t.Fatal(err)
				}
				if tc.wantAt == 0 {
					time.Sleep(24 * time.Hour)
					synctest.Wait()
					if strings.Contains(rec.String(), sse.EventTokenExpired) || app.Events().Connections() != 1 {
						t.Fatalf("stream without expiry ended or expired: %q, %d connections", rec.String(), app.Events().Connections())
					}
					return
				}
				time.Sleep(tc.wantAt - time.Millisecond)
				synctest.Wait()
				if strings.Contains(rec.String(), sse.EventTokenExpired) || app.Events().Connections() != 1 {
					t.Fatalf("stream ended before its expiry: %q", rec.String())
				}
				time.Sleep(time.Millisecond)
				synctest.Wait()
				want := "event: token_expired\ndata: {\"exp\":" + itoa(start.Add(tc.wantAt).Unix()) + "}\n\n"
				if got := rec.String(); !strings.HasSuffix(got, want) || !strings.Contains(got, "event: e\n") {
					t.Fatalf("stream = %q, want the event, then ending with %q", got, want)
				}
				if n := app.Events().Connections(); n != 0 {
					t.Fatalf("%d connections after the expiry, want 0", n)
				}
			})
		})
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestExpireStreamAt_hijackedStreamCloses checks that over a real HTTP/1.1
// connection the client reads token_expired and then the end of the
// stream.
func TestExpireStreamAt_hijackedStreamCloses(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(300 * time.Millisecond)
	_, srv := newServer(t, ssevents.Config{Authorize: func(r *http.Request, _ []string) error {
		ssevents.ExpireStreamAt(r, exp)
		return nil
	}})
	s := subscribe(t, srv.URL+"/events?topic=a", nil)
	ev := s.next(5 * time.Second)
	if ev.Name != sse.EventTokenExpired || ev.Data != `{"exp":`+itoa(exp.Unix())+`}` {
		t.Fatalf("event = %+v, want token_expired with exp %d", ev, exp.Unix())
	}
	if time.Now().Before(exp) {
		t.Fatalf("token_expired before the expiry")
	}
	if err := s.ended(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("stream ended with %v, want a clean EOF", err)
	}
}

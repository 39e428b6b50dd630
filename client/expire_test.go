package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
)

// TestClientTokenExpired checks that the server's token_expired event
// reaches the handler as KindTokenExpired with its Exp, and that the
// client then reconnects at once with a fresh token from TokenFunc, or,
// without TokenFunc, returns ErrTokenExpired.
func TestClientTokenExpired(t *testing.T) {
	t.Parallel()
	for _, withFunc := range []bool{true, false} {
		t.Run(fmt.Sprintf("TokenFunc %v", withFunc), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var tokens []string      // Authorization of each subscribe
			var expiries []time.Time // recorded for each
			_, srv := newServer(t, ssevents.Config{Authorize: func(r *http.Request, _ []string) error {
				exp := time.Now().Add(300 * time.Millisecond)
				ssevents.ExpireStreamAt(r, exp)
				mu.Lock()
				defer mu.Unlock()
				tokens = append(tokens, r.Header.Get("Authorization"))
				expiries = append(expiries, exp)
				return nil
			}})
			cfg := client.Config{URL: srv.URL, Token: "static"}
			n := 0
			if withFunc {
				cfg.Token = ""
				cfg.TokenFunc = func(context.Context) (string, error) { n++; return fmt.Sprintf("fresh-%d", n), nil }
			}
			c := newClient(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var got []client.Event
			err := c.Subscribe(ctx, []string{"a"}, func(ev client.Event) error {
				got = append(got, ev)
				if len(got) == 2 {
					return errors.New("enough")
				}
				return nil
			})
			mu.Lock()
			defer mu.Unlock()
			if !withFunc {
				if !errors.Is(err, client.ErrTokenExpired) || len(got) != 1 || len(tokens) != 1 {
					t.Fatalf("Subscribe = %v after %d events and %d subscribes, want ErrTokenExpired after 1 and 1", err, len(got), len(tokens))
				}
			} else if err == nil || err.Error() != "enough" || len(tokens) != 2 || tokens[0] != "Bearer fresh-1" || tokens[1] != "Bearer fresh-2" {
				t.Fatalf("Subscribe = %v with subscribes %q, want two with fresh tokens", err, tokens)
			}
			for i, ev := range got {
				if ev.Kind != client.KindTokenExpired || ev.Kind.String() != "token_expired" || !ev.Exp.Equal(expiries[i].Truncate(time.Second)) {
					t.Errorf("event %d = %+v (%s), want token_expired at %v", i, ev, ev.Kind, expiries[i].Truncate(time.Second))
				}
			}
		})
	}
}

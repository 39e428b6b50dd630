package ssevents_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
)

// TestCloseDeliversEveryAcknowledgedPublish closes the app while
// publishers hammer it: every publish answered with an id reaches the open
// streams before they end, and every other publish is refused with
// ErrShuttingDown (503), none with another error and none acknowledged
// after the streams ended.
func TestCloseDeliversEveryAcknowledgedPublish(t *testing.T) {
	t.Parallel()
	for _, hijack := range []bool{true, false} {
		name := "hijacked"
		if !hijack {
			name = "ResponseWriter"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app, srv := newServer(t, ssevents.Config{DisableHijack: !hijack, MaxQueueSize: 100_000})
			streams := []*stream{subscribe(t, srv.URL+"/events?topic=a", nil), subscribe(t, srv.URL+"/events?topic=a,b", nil)}
			// Each stream is read as a client reads it, all along: a
			// reader that stopped would stall the stream's writes (and
			// Close with them) instead of testing them.
			received := make([]chan map[string]bool, len(streams))
			for i, s := range streams {
				received[i] = make(chan map[string]bool, 1)
				go func() {
					got := map[string]bool{}
					for ev := range s.events {
						got[ev.ID] = true
					}
					received[i] <- got
				}()
			}
			const publishers = 4
			var (
				mu    sync.Mutex
				acked = map[string]string{} // id -> topic
				wg    sync.WaitGroup
			)
			stop := make(chan struct{})
			for p := range publishers {
				wg.Go(func() {
					for i := 0; ; i++ {
						topic := []string{"a", "b"}[p%2]
						id, err := app.Publish(context.Background(), topic, "e", i)
						if err != nil {
							if !errors.Is(err, ssevents.ErrShuttingDown) {
								t.Errorf("publish during shutdown: %v, want ErrShuttingDown", err)
							}
							return
						}
						mu.Lock()
						acked[id] = topic
						mu.Unlock()
						select {
						case <-stop:
							return
						default:
						}
					}
				})
			}
			time.Sleep(50 * time.Millisecond)
			if err := app.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			close(stop)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(acked) == 0 {
				t.Fatal("no publish was acknowledged before Close")
			}
			// Stream 0 has topic a, stream 1 both.
			for i := range streams {
				var got map[string]bool
				select {
				case got = <-received[i]:
				case <-time.After(10 * time.Second):
					t.Fatalf("stream %d still open after Close", i)
				}
				for id, topic := range acked {
					if !got[id] && (i == 1 || topic == "a") {
						t.Fatalf("stream %d ended without the acknowledged event %s on %s (%d acked, %d received)", i, id, topic, len(acked), len(got))
					}
				}
			}
		})
	}
}

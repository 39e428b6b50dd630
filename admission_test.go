package ssevents_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
)

// hangingAuthorizer allows topics named "public" at once and holds every
// other request until release is closed (then allows it) or the request
// ends, like an authorization webhook that does not answer.
func hangingAuthorizer(release <-chan struct{}) ssevents.Authorizer {
	return func(r *http.Request, topics []string) error {
		if topics[0] == "public" {
			return nil
		}
		select {
		case <-release:
			return nil
		case <-r.Context().Done():
			return ssevents.Forbidden(topics[0])
		}
	}
}

// getStatus GETs url in the background and sends the status it answers
// (0 when the request failed) on the returned channel. A stream (200) is
// kept open until ctx is done, so that it holds its connection slot as
// long as the test needs: closing it at once would hand the slot to a
// request still being admitted. Any other body is closed at once.
func getStatus(ctx context.Context, url string) <-chan int {
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		status <- resp.StatusCode
		if resp.StatusCode == http.StatusOK {
			<-ctx.Done()
		}
		resp.Body.Close()
	}()
	return status
}

// TestSlotsAfterAuthorization checks that requests waiting for a hanging
// authorizer hold no connection slot: with MaxConnections=5, five of them
// do not stop a subscriber of an allowed topic from getting a stream;
// they are bounded by MaxPendingAuth instead, past which a request is
// answered 503 with Retry-After at once; and once allowed they take the
// slots that are left, the rest 503.
func TestSlotsAfterAuthorization(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	app, srv := newServer(t, ssevents.Config{MaxConnections: 5, MaxPendingAuth: 6, Authorize: hangingAuthorizer(release)})
	private := srv.URL + "/events?topic=private"
	var waiting []<-chan int
	for range 5 {
		waiting = append(waiting, getStatus(t.Context(), private))
	}
	waitFor(t, "five pending authorizations", 5*time.Second, func() bool { return app.Events().PendingAuthorizations() == 5 })

	subscribe(t, srv.URL+"/events?topic=public", nil) // fails the test unless 200
	if n := app.Events().Connections(); n != 1 {
		t.Fatalf("%d connections, want the public stream's alone", n)
	}
	waiting = append(waiting, getStatus(t.Context(), private))
	waitFor(t, "six pending authorizations", 5*time.Second, func() bool { return app.Events().PendingAuthorizations() == 6 })

	resp := get(t, private, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("past MaxPendingAuth: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if msg := errorBody(t, resp); !strings.Contains(msg, "6 subscriptions are already waiting for authorization") {
		t.Errorf("error %q does not say the pending limit", msg)
	}
	snap := app.Metrics().Snapshot().Connections
	if snap.PendingAuth != 6 || snap.RejectedPendingAuth != 1 || snap.RejectedMaxConnections != 0 {
		t.Errorf("metrics pending_auth %d, rejected_pending_auth %d, rejected_max_connections %d; want 6, 1, 0",
			snap.PendingAuth, snap.RejectedPendingAuth, snap.RejectedMaxConnections)
	}

	close(release) // the six are allowed: four slots are left
	counts := map[int]int{}
	for _, st := range waiting {
		select {
		case s := <-st:
			counts[s]++
		case <-time.After(5 * time.Second):
			t.Fatal("a released request did not answer")
		}
	}
	if counts[http.StatusOK] != 4 || counts[http.StatusServiceUnavailable] != 2 {
		t.Errorf("released requests answered %v, want 4×200 (the slots left) and 2×503", counts)
	}
	if n := app.Events().Connections(); n != 5 {
		t.Errorf("%d connections after the release, want 5 (the public stream and the four allowed)", n)
	}
	if got := app.Metrics().Snapshot().Connections.RejectedMaxConnections; got != 2 {
		t.Errorf("rejected_max_connections = %d, want 2", got)
	}
}

// TestMaxPendingAuthDefault checks the default of MaxPendingAuth: a tenth
// of MaxConnections, at least MinMaxPendingAuth; a value given is kept.
func TestMaxPendingAuthDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		maxConns, pending, want int
	}{
		{0, 0, max(ssevents.MinMaxPendingAuth, ssevents.ProcessMaxConnections()/10)}, // the default MaxConnections follows the open-file limit
		{5, 0, ssevents.MinMaxPendingAuth},
		{100, 0, ssevents.MinMaxPendingAuth},
		{200, 0, 20},
		{500_000, 0, 50_000},
		{5, 3, 3},
	} {
		app, err := ssevents.New(ssevents.Config{MaxConnections: tc.maxConns, MaxPendingAuth: tc.pending})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Close() })
		if got := app.Config().MaxPendingAuth; got != tc.want {
			t.Errorf("MaxConnections %d, MaxPendingAuth %d: default %d, want %d", tc.maxConns, tc.pending, got, tc.want)
		}
	}
}

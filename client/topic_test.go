package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ssevents/ssevents/client"
)

// Event.Topic is the event's topic field when it has one, else the
// subscription's only topic; on a subscription of several topics to a
// server that sends no field (one that predates it), it is "".
func TestClientEventTopicFromField(t *testing.T) {
	t.Parallel()
	const body = "retry: 1000\n\n" +
		"id: 1-0\nevent: a\ntopic: invoices\ndata: {}\n\n" +
		"id: 2-0\nevent: b\ndata: {}\n\n" +
		"id: 3-0\nevent: c\ndata: {}\ntopic: orders\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, body)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		topics []string
		want   []string
	}{
		{[]string{"orders", "invoices"}, []string{"invoices", "", "orders"}},
		{[]string{"orders"}, []string{"invoices", "orders", "orders"}},
	} {
		c := newClient(t, client.Config{URL: srv.URL})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		var got []string
		for ev, err := range c.Events(ctx, tt.topics) {
			if err != nil {
				t.Fatalf("%v: %v", tt.topics, err)
			}
			got = append(got, ev.Topic)
			if len(got) == len(tt.want) {
				break
			}
		}
		cancel()
		for i := range tt.want {
			if i >= len(got) || got[i] != tt.want[i] {
				t.Fatalf("subscription to %v: topics %q, want %q", tt.topics, got, tt.want)
			}
		}
	}
}

package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/client"
	"github.com/ssevents/ssevents/sse"
)

// waitFor receives from ch or fails the test after d.
func waitFor[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

func TestClientReceivesNamedEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		topics    []string
		publishOn string
		wantTopic string
	}{
		{"one topic", []string{"orders"}, "orders", "orders"},
		// The server names the topic in each event's topic field.
		{"several topics", []string{"orders", "invoices"}, "invoices", "invoices"},
		{"several topics, the first", []string{"orders", "invoices"}, "orders", "orders"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := newServer(t, ssevents.Config{})
			c := newClient(t, client.Config{URL: srv.URL})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opt, up := connected()
			events := make(chan client.Event, 10)
			done := make(chan error, 1)
			go func() {
				for ev, err := range c.Events(ctx, tt.topics, opt) {
					if err != nil {
						done <- err
						return
					}
					events <- ev
				}
			}()
			waitFor(t, up, 5*time.Second, "connection")

			var ids []string
			for i, name := range []string{"created", "paid", "shipped"} {
				id, err := c.Publish(ctx, tt.publishOn, name, map[string]int{"n": i})
				if err != nil {
					t.Fatalf("Publish: %v", err)
				}
				ids = append(ids, id)
			}
			for i, name := range []string{"created", "paid", "shipped"} {
				ev := waitFor(t, events, 5*time.Second, "event "+name)
				want := client.Event{Kind: client.KindEvent, ID: ids[i], Name: name, Topic: tt.wantTopic,
					Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}
				if ev.Kind != want.Kind || ev.ID != want.ID || ev.Name != want.Name || ev.Topic != want.Topic || string(ev.Data) != string(want.Data) {
					t.Errorf("event %d = %+v (data %s), want %+v (data %s)", i, ev, ev.Data, want, want.Data)
				}
			}
			cancel()
			if err := waitFor(t, done, 5*time.Second, "the iterator to end"); !errors.Is(err, context.Canceled) {
				t.Errorf("iterator ended with %v, want context.Canceled", err)
			}
		})
	}
}

func TestClientSubscribeCallbackError(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	c := newClient(t, client.Config{URL: srv.URL})
	opt, up := connected()
	stop := errors.New("enough")
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- c.Subscribe(t.Context(), []string{"t"}, func(ev client.Event) error {
			got = append(got, string(ev.Data))
			if len(got) == 2 {
				return stop
			}
			return nil
		}, opt)
	}()
	waitFor(t, up, 5*time.Second, "connection")
	for i := range 3 {
		if _, err := app.Publish(t.Context(), "t", "tick", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitFor(t, done, 5*time.Second, "Subscribe to return"); !errors.Is(err, stop) {
		t.Fatalf("Subscribe = %v, want the callback's error", err)
	}
	if !slices.Equal(got, []string{"0", "1"}) {
		t.Errorf("callback saw %q, want [0 1]", got)
	}
}

func TestClientSurfacesResync(t *testing.T) {
	t.Parallel()
	app, srv := newServer(t, ssevents.Config{})
	if _, err := app.Publish(t.Context(), "a", "old", 0); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, client.Config{URL: srv.URL})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	opt, up := connected()
	events := make(chan client.Event, 10)
	go func() {
		for ev, err := range c.Events(ctx, []string{"a", "b"}, client.ResumeFrom("1-0"), opt) {
			if err != nil {
				return
			}
			events <- ev
		}
	}()
	waitFor(t, up, 5*time.Second, "connection")
	// One resync per topic, each with its reason: "1-0" is from no
	// dataset the hub holds.
	for _, topic := range []string{"a", "b"} {
		ev := waitFor(t, events, 5*time.Second, "the resync of "+topic)
		if ev.Kind != client.KindResync || ev.Name != sse.EventResync || !slices.Equal(ev.Topics, []string{topic}) {
			t.Fatalf("event = %+v, want a resync of [%s]", ev, topic)
		}
		if r := ev.Resync; r == nil || r.Topic != topic || r.Reason != sse.ResyncDatasetChanged || r.Genesis == "" {
			t.Fatalf("resync of %s: Resync = %+v, want topic, reason dataset_changed and genesis", topic, r)
		}
	}
	id, err := app.Publish(t.Context(), "b", "new", 1)
	if err != nil {
		t.Fatal(err)
	}
	if ev := waitFor(t, events, 5*time.Second, "the live event"); ev.Kind != client.KindEvent || ev.ID != id {
		t.Fatalf("after the resync got %+v, want the live event %s", ev, id)
	}
}

func TestClientPublishErrors(t *testing.T) {
	t.Parallel()
	_, srv := newServer(t, ssevents.Config{MaxMessageSize: 64})
	tests := []struct {
		name       string
		path       string
		topic      string
		event      string
		data       any
		wantStatus int
		wantMsg    string
		wantIs     error
	}{
		{"invalid topic", "", "bad topic!", "e", 1, 400, "invalid topic", nil},
		{"reserved event", "", "t", "resync", 1, 400, "reserved", nil},
		{"too large", "", "t", "e", strings.Repeat("x", 100), 413, "too large", sse.ErrMessageTooLarge},
		{"no such route", "/nope", "t", "e", 1, 404, "404 page not found", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, client.Config{URL: srv.URL, PublishPath: tt.path})
			_, err := c.Publish(t.Context(), tt.topic, tt.event, tt.data)
			var se *client.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Publish = %v, want a *StatusError", err)
			}
			if se.StatusCode != tt.wantStatus || !strings.Contains(se.Message, tt.wantMsg) {
				t.Errorf("StatusError = %d %q, want %d containing %q", se.StatusCode, se.Message, tt.wantStatus, tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.wantIs)
			}
		})
	}
	t.Run("data not JSON", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, client.Config{URL: srv.URL})
		if _, err := c.Publish(t.Context(), "t", "e", json.RawMessage("{nope")); !errors.Is(err, sse.ErrInvalidData) {
			t.Errorf("Publish = %v, want ErrInvalidData before any request", err)
		}
	})
}

func TestClientAuthAndRefusals(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	_, srv := newServer(t, ssevents.Config{Authorize: ssevents.AuthorizeEachTopic(func(r *http.Request, topic string) (bool, error) {
		requests.Add(1)
		if r.Header.Get("Authorization") != "Bearer good" {
			return false, fmt.Errorf("%w: bad token", sse.ErrUnauthorized)
		}
		return r.Header.Get("X-Tenant") == "acme" && topic != "secret", nil
	})})
	tests := []struct {
		name       string
		cfg        client.Config
		topic      string
		wantStatus int
		wantIs     error
	}{
		{"no token", client.Config{}, "t", 401, sse.ErrUnauthorized},
		{"forbidden topic", client.Config{Token: "good", Header: http.Header{"X-Tenant": {"acme"}}}, "secret", 403, sse.ErrForbidden},
		{"token func", client.Config{TokenFunc: func(context.Context) (string, error) { return "good", nil },
			Header: http.Header{"X-Tenant": {"acme"}}}, "t", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL = srv.URL
			tt.cfg.BackoffInitial = time.Millisecond
			c := newClient(t, tt.cfg)
			before := requests.Load()
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			err := c.Subscribe(ctx, []string{tt.topic}, func(client.Event) error { return nil })
			if tt.wantStatus == 0 {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Subscribe = %v, want it to stay subscribed until the deadline", err)
				}
				return
			}
			var se *client.StatusError
			if !errors.As(err, &se) || se.StatusCode != tt.wantStatus || !errors.Is(err, tt.wantIs) {
				t.Fatalf("Subscribe = %v, want a %d StatusError matching %v", err, tt.wantStatus, tt.wantIs)
			}
			if n := requests.Load() - before; n != 1 {
				t.Errorf("%d requests made, want 1: a %d is not retried", n, tt.wantStatus)
			}
		})
	}
}

func TestClientNotEventStream(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>"))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL})
	err := c.Subscribe(t.Context(), []string{"t"}, func(client.Event) error { return nil })
	if !errors.Is(err, client.ErrNotEventStream) {
		t.Fatalf("Subscribe = %v, want ErrNotEventStream", err)
	}
}

func TestClientCancelStopsPromptly(t *testing.T) {
	t.Parallel()
	t.Run("while streaming", func(t *testing.T) {
		t.Parallel()
		_, srv := newServer(t, ssevents.Config{})
		c := newClient(t, client.Config{URL: srv.URL})
		ctx, cancel := context.WithCancel(t.Context())
		opt, up := connected()
		done := make(chan error, 1)
		go func() { done <- c.Subscribe(ctx, []string{"t"}, func(client.Event) error { return nil }, opt) }()
		waitFor(t, up, 5*time.Second, "connection")
		cancel()
		if err := waitFor(t, done, time.Second, "Subscribe to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe = %v, want context.Canceled", err)
		}
	})
	t.Run("while backing off", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close() // nothing listens there now: every attempt fails
		c := newClient(t, client.Config{URL: "http://" + addr, BackoffInitial: time.Hour, BackoffMax: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		retrying := make(chan time.Duration, 10)
		done := make(chan error, 1)
		go func() {
			done <- c.Subscribe(ctx, []string{"t"}, func(client.Event) error { return nil },
				client.OnConnState(func(cs client.ConnState) {
					if cs.RetryIn > 0 {
						retrying <- cs.RetryIn
					}
				}))
		}()
		waitFor(t, retrying, 5*time.Second, "a failed attempt")
		cancel()
		if err := waitFor(t, done, time.Second, "Subscribe to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("Subscribe = %v, want context.Canceled", err)
		}
	})
}

func TestClientNew(t *testing.T) {
	t.Parallel()
	for _, cfg := range []client.Config{
		{},
		{URL: "localhost:8000"},
		{URL: "ftp://host"},
		{URL: "http://h", BackoffMax: -1},
		{URL: "http://h", HTTPClient: &http.Client{Timeout: time.Second}},
	} {
		if _, err := client.New(cfg); !errors.Is(err, sse.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

package sse_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	_ "github.com/ssevents/ssevents/broker/memory" // registers memory://
	"github.com/ssevents/ssevents/sse"
)

func TestOpenBroker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, raw := range []string{"", "memory://"} {
		b, err := sse.OpenBroker(ctx, raw, sse.BrokerOptions{})
		if err != nil {
			t.Fatalf("OpenBroker(%q): %v", raw, err)
		}
		if err := b.Ready(ctx); err != nil {
			t.Errorf("OpenBroker(%q).Ready: %v", raw, err)
		}
		b.Close()
	}
	tests := []struct {
		url  string
		want error
		text string
	}{
		{"bogus://x", sse.ErrUnknownBroker, `"bogus"`},
		{"redis://127.0.0.1:6379/0", sse.ErrUnknownBroker, `import _ "github.com/ssevents/ssevents/broker/redis"`},
		{"no scheme", sse.ErrInvalidConfig, "is not a URL"},
		{"redis://user:hunter2@host:1", sse.ErrUnknownBroker, ""},
	}
	for _, tt := range tests {
		_, err := sse.OpenBroker(ctx, tt.url, sse.BrokerOptions{})
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenBroker(%q) = %v, want %v saying %q and no password", tt.url, err, tt.want, tt.text)
		}
	}
}

func TestRegisterBroker(t *testing.T) {
	t.Parallel()
	var got sse.BrokerOptions
	sse.RegisterBroker("sse-test", func(_ context.Context, u *url.URL, opts sse.BrokerOptions) (sse.Broker, error) {
		got = opts
		return nil, errors.New("opened " + u.Host)
	})
	_, err := sse.OpenBroker(context.Background(), "SSE-TEST://here", sse.BrokerOptions{TopicPrefix: "app"})
	if err == nil || err.Error() != "opened here" {
		t.Fatalf("OpenBroker through a registered scheme: %v, want the opener's answer", err)
	}
	if got.TopicPrefix != "app" || got.HistorySize != sse.DefaultHistorySize || got.HistoryAge != sse.DefaultHistoryAge ||
		got.HistoryMaxTopics != sse.DefaultHistoryMaxTopics || got.HistoryMaxBytes != sse.DefaultHistoryMaxBytes ||
		got.IdempotencyMaxRecords != sse.DefaultIdempotencyMaxRecords || got.Logger == nil || got.Observer == nil {
		t.Fatalf("the opener got %+v, want the options with every default filled in", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("RegisterBroker twice for one scheme did not panic")
		}
	}()
	sse.RegisterBroker("sse-test", nil)
}

// An unknown scheme's error lists the schemes that have a broker, from the
// registry, and CheckBrokerURL answers as OpenBroker would without opening.
func TestCheckBrokerURL(t *testing.T) {
	t.Parallel()
	schemes := sse.BrokerSchemes()
	if !slices.Contains(schemes, "memory") || !slices.IsSorted(schemes) {
		t.Fatalf("BrokerSchemes() = %v, want memory among them, sorted", schemes)
	}
	for _, raw := range []string{"", "memory://", "MEMORY://"} {
		if err := sse.CheckBrokerURL(raw); err != nil {
			t.Errorf("CheckBrokerURL(%q) = %v, want nil", raw, err)
		}
	}
	for _, tt := range []struct {
		url  string
		want error
		text string
	}{
		{"http://user:hunter2@x", sse.ErrUnknownBroker, `"http"; accepted: memory://`},
		{"nonsense", sse.ErrInvalidConfig, "accepted schemes: memory://"},
	} {
		err := sse.CheckBrokerURL(tt.url)
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckBrokerURL(%q) = %v, want %v saying %q and no password", tt.url, err, tt.want, tt.text)
		}
		_, openErr := sse.OpenBroker(context.Background(), tt.url, sse.BrokerOptions{})
		if openErr == nil || openErr.Error() != err.Error() {
			t.Errorf("OpenBroker(%q) = %v, want CheckBrokerURL's error %v", tt.url, openErr, err)
		}
	}
	// Every registered scheme is listed (schemes was read first: a test
	// running in parallel may register more, never fewer).
	err := sse.CheckBrokerURL("bogus://x")
	for _, s := range schemes {
		if !strings.Contains(err.Error(), s+"://") {
			t.Errorf("%v does not list %s://", err, s)
		}
	}
}

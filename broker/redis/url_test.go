package redis_test

import (
	"strings"
	"testing"

	"github.com/ssevents/ssevents/broker/brokertest"
	"github.com/ssevents/ssevents/broker/redis"
	"github.com/ssevents/ssevents/internal/redistest"
	"github.com/ssevents/ssevents/sse"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		addrs   string
		cluster bool
		db      int
		master  string
		tls     bool
		wantErr bool
	}{
		{url: "redis://localhost:6379/0", addrs: "localhost:6379"},
		{url: "redis://:pw@h:1/2", addrs: "h:1", db: 2},
		{url: "rediss://h", addrs: "h:6379", tls: true},
		{url: "redis://h1:7001,h2:7002,h3:7003/0", addrs: "h1:7001,h2:7002,h3:7003", cluster: true},
		{url: "redis+cluster://h1:7001", addrs: "h1:7001", cluster: true},
		{url: "redis+sentinel://s1,s2:26380/mymaster/3", addrs: "s1:26379,s2:26380", db: 3, master: "mymaster"},
		{url: "redis+sentinel://s1?master=m", addrs: "s1:26379", master: "m"},
		{url: "redis+sentinel://s1", wantErr: true},
		{url: "redis+cluster://h:1/3", wantErr: true},
		{url: "redis://h/x", wantErr: true},
		{url: "redis://h/?timeout=-1s", wantErr: true},
		{url: "memcache://h", wantErr: true},
	}
	for _, tt := range tests {
		cfg, err := redis.ParseURL(tt.url)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseURL(%q) = %+v, want an error", tt.url, cfg)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.url, err)
			continue
		}
		if got := strings.Join(cfg.Addrs, ","); got != tt.addrs || cfg.Cluster != tt.cluster || cfg.DB != tt.db ||
			cfg.SentinelMaster != tt.master || (cfg.TLS != nil) != tt.tls {
			t.Errorf("ParseURL(%q) = %+v", tt.url, cfg)
		}
	}
}

// TestSentinel reaches the master through a Sentinel.
func TestSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	url := "redis+sentinel://" + sentinel.Addr() + "/mymaster/0"
	a := open(t, url, sse.BrokerOptions{})
	b := open(t, master.URL(), sse.BrokerOptions{})
	sub := brokertest.Subscribe(t, a, sse.SubscribeRequest{Topics: []string{"s"}})
	brokertest.Publish(t, b, 1, "s")
	if got := brokertest.ReceiveAtLeast(t, sub, 1); brokertest.Seq(t, got[0]) != 1 {
		t.Fatalf("got %+v", got)
	}
	if err := a.Ready(t.Context()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

// TestTLS publishes and subscribes over rediss://.
func TestTLS(t *testing.T) {
	t.Parallel()
	srv, _ := redistest.StartTLS(t)
	b := open(t, "rediss://"+srv.Addr()+"/0?skip_verify=true", sse.BrokerOptions{})
	sub := brokertest.Subscribe(t, b, sse.SubscribeRequest{Topics: []string{"tls"}})
	brokertest.Publish(t, b, 1, "tls")
	if got := brokertest.ReceiveAtLeast(t, sub, 1); brokertest.Seq(t, got[0]) != 1 {
		t.Fatalf("got %+v", got)
	}
	if _, err := sse.OpenBroker(t.Context(), "redis://"+srv.Addr()+"/0?timeout=300ms", sse.BrokerOptions{}); err == nil {
		t.Fatal("plain redis:// to a TLS-only server succeeded")
	}
}

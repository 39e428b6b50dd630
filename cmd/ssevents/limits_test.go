package main_test

import (
	"io"
	"strings"
	"testing"

	main "github.com/ssevents/ssevents/cmd/ssevents"
)

// TestParseFlags_clientLimits checks the flags and variables of the client
// address and the rate limits, and that an invalid value stops the start
// naming its variable.
func TestParseFlags_clientLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		args               []string
		env                map[string]string
		wantErr            string
		proxies            string
		publishRate, perIP int
	}{
		{name: "defaults: none, no limits"},
		{name: "flags", args: []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1", "--publish-rate", "20", "--max-connections-per-ip", "8"},
			proxies: "10.0.0.0/8|127.0.0.1", publishRate: 20, perIP: 8},
		{name: "variables", env: map[string]string{"SSE_TRUSTED_PROXIES": "fd00::/8", "SSE_PUBLISH_RATE": "5", "SSE_MAX_CONNECTIONS_PER_IP": "3"},
			proxies: "fd00::/8", publishRate: 5, perIP: 3},
		{name: "invalid CIDR", args: []string{"--trusted-proxies", "10.0.0.0/40"}, wantErr: `SSE_TRUSTED_PROXIES="10.0.0.0/40"`},
		{name: "host name", env: map[string]string{"SSE_TRUSTED_PROXIES": "proxy.internal"}, wantErr: "SSE_TRUSTED_PROXIES"},
		{name: "negative rate", args: []string{"--publish-rate", "-1"}, wantErr: `SSE_PUBLISH_RATE="-1": want an integer from 0 to 1000000`},
		{name: "negative per-address limit", env: map[string]string{"SSE_MAX_CONNECTIONS_PER_IP": "-2"}, wantErr: "SSE_MAX_CONNECTIONS_PER_IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := main.NewMain()
			err := m.ParseFlags(tc.args, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config
			if got := strings.Join(c.TrustedProxies, "|"); got != tc.proxies || c.PublishRate != tc.publishRate || c.MaxConnectionsPerIP != tc.perIP {
				t.Errorf("trusted %q, publish rate %d, per address %d; want %q, %d, %d", got, c.PublishRate, c.MaxConnectionsPerIP, tc.proxies, tc.publishRate, tc.perIP)
			}
		})
	}
}

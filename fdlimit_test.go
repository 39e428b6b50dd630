package ssevents_test

import (
	"math"
	"testing"

	"github.com/ssevents/ssevents"
)

// The default MaxConnections is the open-file limit minus max(256, 5%),
// from 1 to 1000000, and 10000 where the limit cannot be read.
func TestMaxConnectionsForFileLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit uint64
		ok    bool
		want  int
	}{
		{"hard limit of 20000", 20_000, true, 19_000},
		{"common soft limit", 1024, true, 768},
		{"headroom turns to 5% past 5120", 5120, true, 4864},
		{"ulimit -n 65536", 65_536, true, 62_261},
		{"large limit", 1_048_576, true, 996_151},
		{"just under the cap", 1_052_000, true, 999_400},
		{"past the cap", 2_000_000, true, ssevents.MaxMaxConnections},
		{"unlimited (RLIM_INFINITY)", math.MaxUint64, true, 1_000_000},
		{"FreeBSD's RLIM_INFINITY", math.MaxInt64, true, 1_000_000},
		{"just above the headroom", 257, true, 1},
		{"the headroom alone", 256, true, 1},
		{"zero", 0, true, 1},
		{"unreadable", 0, false, 10_000},
		{"unreadable ignores the value", 20_000, false, ssevents.DefaultMaxConnections},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ssevents.MaxConnectionsForFileLimit(tt.limit, tt.ok); got != tt.want {
				t.Errorf("MaxConnectionsForFileLimit(%d, %v) = %d, want %d", tt.limit, tt.ok, got, tt.want)
			}
		})
	}
}

// An explicit MaxConnections wins over the computed default, and
// MaxPendingAuth's default follows whichever applies.
func TestConfig_maxConnectionsGivenWins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cfg         ssevents.Config
		env         string
		wantMax     int
		wantPending int
	}{
		{"field", ssevents.Config{MaxConnections: 123}, "", 123, 16},
		{"field above the default", ssevents.Config{MaxConnections: 999_999}, "", 999_999, 99_999},
		{"variable", ssevents.Config{}, "42", 42, 16},
		{"variable and pending", ssevents.Config{MaxPendingAuth: 7}, "5000", 5000, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			if err := cfg.ApplyLookup(func(k string) (string, bool) { return tt.env, tt.env != "" && k == "SSE_MAX_CONNECTIONS" }); err != nil {
				t.Fatal(err)
			}
			app, err := ssevents.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer app.Close()
			if got := app.Config(); got.MaxConnections != tt.wantMax || got.MaxPendingAuth != tt.wantPending {
				t.Errorf("MaxConnections %d, MaxPendingAuth %d, want %d, %d", got.MaxConnections, got.MaxPendingAuth, tt.wantMax, tt.wantPending)
			}
		})
	}
}

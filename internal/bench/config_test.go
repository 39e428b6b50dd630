package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Config{URL: "http://127.0.0.1:1", Conns: 10, Rate: 10, Duration: time.Second, Topics: 1}
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string // "" for valid
	}{
		{"valid", func(*Config) {}, ""},
		{"rate 0 is as fast as possible", func(c *Config) { c.Rate = 0 }, ""},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate"},
		{"rate 0 ignores rate x duration", func(c *Config) { c.Rate, c.Duration = 0, MaxDuration }, ""},
		{"too many events", func(c *Config) { c.Rate, c.Duration = MaxRate, MaxDuration }, "--rate x --duration"},
		{"publishers", func(c *Config) { c.Publishers = 64 }, ""},
		{"too many publishers", func(c *Config) { c.Publishers = MaxPublishers + 1 }, "--publishers"},
		{"too many max events", func(c *Config) { c.MaxEvents = MaxEvents + 1 }, "--max-events"},
		{"source addresses", func(c *Config) { c.SourceAddrs = []string{"127.0.0.2", "127.1.2.3"} }, ""},
		{"source address off loopback", func(c *Config) { c.SourceAddrs = []string{"10.0.0.1"} }, "10.0.0.1"},
		{"IPv6 source address", func(c *Config) { c.SourceAddrs = []string{"::1"} }, "IPv4"},
		{"not an address", func(c *Config) { c.SourceAddrs = []string{"lo"} }, "lo"},
		{"too many URLs", func(c *Config) { c.URLs = make([]string, MaxURLs+1) }, "--url"},
		{"users", func(c *Config) { c.Users = Users{Count: 3, Secret: strings.Repeat("s", MinUserSecretLength)} }, ""},
		{"users without a secret", func(c *Config) { c.Users.Count = 3 }, "secret"},
		{"users with a short secret", func(c *Config) { c.Users = Users{Count: 3, Secret: "short"} }, "secret"},
		{"negative users", func(c *Config) { c.Users.Count = -1 }, "--users"},
		{"presence without users", func(c *Config) { c.Presence = true }, "--users"},
		{"too many presence calls", func(c *Config) { c.PresenceCalls = MaxPresenceCalls + 1 }, "--presence-calls"},
		{"big topic", func(c *Config) { c.BigTopic = 9 }, ""},
		{"big topic of every stream", func(c *Config) { c.BigTopic = 10 }, "--big-topic"},
		{"big topic leaves too few streams", func(c *Config) { c.BigTopic, c.Topics = 9, 2 }, "--topics"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want int
	}{
		{Config{Rate: 100, Duration: 2 * time.Second}, 200},
		{Config{Rate: 1, Duration: 100 * time.Millisecond}, 1},
		{Config{Rate: 0, Duration: time.Second}, MaxEvents},
		{Config{Rate: 0, Duration: time.Second, MaxEvents: 500}, 500},
	} {
		if got := tc.cfg.events(); got != tc.want {
			t.Errorf("events of rate %d for %v (max %d) = %d, want %d", tc.cfg.Rate, tc.cfg.Duration, tc.cfg.MaxEvents, got, tc.want)
		}
	}
}

func TestAutoSourceAddrs(t *testing.T) {
	t.Parallel()
	v4 := []string{"http://127.0.0.1:8000"}
	for _, tc := range []struct {
		name    string
		conns   int
		workers int
		urls    []string
		want    int
	}{
		{"one worker, few streams", 15000, 1, v4, 0},
		{"one worker, many streams", 30000, 1, v4, 2},
		{"one source per worker", 45000, 3, v4, 3},
		{"one source per 25,000 streams", 1_000_000, 67, v4, 67},
		{"more sources than workers", 100_000, 2, v4, 4},
		{"hostname: family unknown", 100_000, 7, []string{"http://localhost:8000"}, 0},
		{"IPv6 hub", 100_000, 7, []string{"http://[::1]:8000"}, 0},
		{"one IPv6 hub of two", 100_000, 7, []string{"http://127.0.0.1:1", "http://[::1]:2"}, 0},
	} {
		got := autoSourceAddrs(tc.conns, tc.workers, tc.urls)
		if len(got) != tc.want || tc.want > 0 && got[0] != "127.0.0.2" {
			t.Errorf("%s: %d source addresses %v, want %d from 127.0.0.2", tc.name, len(got), got, tc.want)
		}
	}
	if got := SourceAddrs(MaxSourceAddrs + 10); len(got) != MaxSourceAddrs || got[len(got)-1] != "127.0.0.251" {
		t.Errorf("SourceAddrs past the bound: %d, last %s; want %d, 127.0.0.251", len(got), got[len(got)-1], MaxSourceAddrs)
	}
	if got := SourceAddrs(3); !slices.Equal(got, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
		t.Errorf("SourceAddrs(3) = %v", got)
	}
}

func TestProgressLineFormat(t *testing.T) {
	t.Parallel()
	scheduled := newPublishing(Config{URL: "http://127.0.0.1:1", Rate: 10, Duration: time.Second, Conns: 4}, []string{"a"})
	scheduled.sent.Store(7)
	scheduled.sentTo[0].Store(7) // 4 subscriptions on the one topic: 28 due
	unlimited := newPublishing(Config{URL: "http://127.0.0.1:1", Rate: 0, Duration: time.Second, Conns: 4}, []string{"a"})
	unlimited.sent.Store(1234)
	pr := Progress{Connected: 4, Received: 20, LatencyP99Ms: 12.34}
	for _, tc := range []struct {
		name  string
		tty   bool
		phase string
		p     *publishing
		want  []string
		not   []string
	}{
		{"connecting", false, "connect", nil, []string{"bench: connect conns 4/4\n"}, []string{"published", "\r"}},
		{"publishing on a terminal", true, "publish", scheduled,
			[]string{"\rbench: publish conns 4/4", "sent 7 of 10 (0 errors)", "received 20 of 28 due", "p99 12.3 ms", "\x1b[K"}, []string{"\n"}},
		{"as fast as possible", false, "publish", unlimited,
			[]string{"sent 1234 (0 errors)", "p99 12.3 ms", "\n"}, []string{"1234 of"}},
	} {
		l := &progressLine{tty: tc.tty, conns: 4}
		s := l.format(tc.phase, pr, tc.p)
		for _, w := range tc.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: progress line %q lacks %q", tc.name, s, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(s, w) {
				t.Errorf("%s: progress line %q has %q", tc.name, s, w)
			}
		}
	}
}

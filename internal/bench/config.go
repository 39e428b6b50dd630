package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// Limits and defaults of Config. The limits keep a run bounded: it always
// ends by itself.
const (
	// DefaultPerProcess is the most subscriptions one process holds: each
	// is an open file, and the hard limit is often 20,000 per process.
	DefaultPerProcess = 15000
	// MaxConns, MaxRate, MaxDuration and MaxTopics bound a run.
	MaxConns    = 1_000_000
	MaxRate     = 100_000
	MaxDuration = 10 * time.Minute
	MaxTopics   = 100_000
	// MaxEvents bounds Rate x Duration, and the events of a run with Rate
	// 0: the publisher keeps a status per event and each worker a counter
	// per event (4 bytes each, sized up front), which workers send in their
	// result.
	MaxEvents = 1_000_000
	// MaxUsers bounds Users.Count: a worker keeps a token per user.
	MaxUsers = MaxConns
	// MaxPresenceCalls bounds Config.PresenceCalls.
	MaxPresenceCalls = 100_000
	// DefaultPresenceCalls is how many GET /presence a run with Presence
	// times: enough for a p99 of a hundred slowest.
	DefaultPresenceCalls = 1000
	// DefaultPresenceLimit is the limit of the timed GET /presence calls.
	DefaultPresenceLimit = 100
	// DefaultPresenceTimeout bounds the wait for exact presence counts.
	DefaultPresenceTimeout = 60 * time.Second
	// MaxURLs bounds the hub instances of one run.
	MaxURLs = 64
	// MaxPublishers bounds Publishers: each is a connection to a hub.
	MaxPublishers = 1000
	// MaxSourceAddrs bounds SourceAddrs: 127.0.0.2 to 127.0.0.251.
	MaxSourceAddrs = 250
	// StreamsPerSource is how many streams one source address carries
	// before the run adds another automatically: a source address has
	// about 28,000 ephemeral ports (32768-60999), less some for other
	// programs.
	StreamsPerSource = 25_000
	// DefaultDrain is how long a run waits at most, after the last
	// publish, for deliveries to arrive (it ends as soon as all have);
	// whatever has not arrived then counts as lost.
	DefaultDrain = 10 * time.Second
	// DefaultPublishers is how many publish requests may be in flight:
	// enough to publish thousands a second over loopback, few enough to
	// keep events of one topic nearly in publish order.
	DefaultPublishers = 8
	// publishTimeout bounds one publish request.
	publishTimeout = 10 * time.Second
	// publishGrace is how long publish requests in flight at the end of
	// Duration may take to finish.
	publishGrace = 2 * time.Second
)

// Config describes a run.
type Config struct {
	// URL of the hub (loopback only) and Token for it.
	URL   string
	Token string
	// CAFile is a PEM file of CA certificates trusted, besides the
	// system's, for an https:// URL (a private CA). Default: none.
	CAFile string
	// URLs, when set, replaces URL: several instances of one hub (sharing
	// a broker); subscriptions and publishes go round-robin over them.
	URLs []string
	// Conns subscriptions, Rate events a second for Duration, over Topics
	// topics (events and subscriptions round-robin over them; default 1).
	// Rate 0 publishes as fast as the publishers can, back to back, for
	// Duration or until MaxEvents were sent.
	Conns    int
	Rate     int
	Duration time.Duration
	Topics   int
	// Publishers is how many publish requests may be in flight. Default
	// DefaultPublishers.
	Publishers int
	// MaxEvents bounds the events of a run with Rate 0 (it sizes the
	// per-event bookkeeping). Default and at most MaxEvents.
	MaxEvents int
	// SourceAddrs are the IPv4 loopback addresses the subscriptions dial
	// from, round-robin, so that none runs out of ephemeral ports. Default:
	// none (the system's choice) up to StreamsPerSource streams and one
	// worker; past that, enough of 127.0.0.2, .3, ... (see SourceAddrs).
	SourceAddrs []string
	// PerProcess is the most subscriptions a process holds; more spawn
	// worker processes. Default DefaultPerProcess.
	PerProcess int
	// ServerPID is the hub's process, for its memory; 0 finds it by the
	// URL's port.
	ServerPID int
	// Drain: default DefaultDrain.
	Drain time.Duration
	// ConnectTimeout bounds the connect phase. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Users, when Users.Count > 0, gives every subscription a token of its
	// own user (see Users); the run's Token still publishes and reads
	// presence.
	Users Users
	// BigTopic is how many of the Conns subscriptions (the last ones)
	// follow one more topic instead, which receives no events: with
	// Users, a topic of up to BigTopic members for presence. The others
	// follow the Topics topics round-robin.
	BigTopic int
	// Presence measures presence after the connect phase, before
	// publishing (it needs Users and hubs that track the run's topics):
	// the time from the last connect until every topic's GET /presence
	// answers the exact counts (at most PresenceTimeout, default
	// DefaultPresenceTimeout), then PresenceCalls (default
	// DefaultPresenceCalls) sequential GET /presence with limit
	// DefaultPresenceLimit on the big topic (topic 0 without one). It
	// publishes 2 s after settling at the earliest, so that measures
	// taken beside the run once a second see the settled state.
	Presence        bool
	PresenceCalls   int
	PresenceTimeout time.Duration
	// Spawn starts worker processes; required when Conns > PerProcess.
	Spawn SpawnFunc
	// Progress receives a live progress line; nil for none. With
	// ProgressTTY the line is redrawn in place.
	Progress    io.Writer
	ProgressTTY bool
}

// Validate checks the bounds of c.
func (c Config) Validate() error {
	switch {
	case c.Conns < 1 || c.Conns > MaxConns:
		return fmt.Errorf("bench: --conns must be 1 to %d", MaxConns)
	case c.Rate < 0 || c.Rate > MaxRate:
		return fmt.Errorf("bench: --rate must be 0 (as fast as possible) to %d events a second", MaxRate)
	case c.Publishers < 0 || c.Publishers > MaxPublishers:
		return fmt.Errorf("bench: --publishers must be 1 to %d", MaxPublishers)
	case c.MaxEvents < 0 || c.MaxEvents > MaxEvents:
		return fmt.Errorf("bench: --max-events must be 1 to %d", MaxEvents)
	case len(c.URLs) > MaxURLs:
		return fmt.Errorf("bench: at most %d --url", MaxURLs)
	case len(c.SourceAddrs) > MaxSourceAddrs:
		return fmt.Errorf("bench: at most %d source addresses", MaxSourceAddrs)
	case c.Duration < 100*time.Millisecond || c.Duration > MaxDuration:
		return fmt.Errorf("bench: --duration must be 100ms to %v", MaxDuration)
	case int64(c.Rate)*int64(c.Duration)/int64(time.Second) > MaxEvents:
		return fmt.Errorf("bench: --rate x --duration must be at most %d events", MaxEvents)
	case c.BigTopic < 0 || c.BigTopic >= c.Conns:
		return errors.New("bench: --big-topic must be 0 to --conns - --topics")
	case c.Topics < 0 || c.Topics > MaxTopics || c.Topics > c.Conns-c.BigTopic:
		return fmt.Errorf("bench: --topics must be 1 to min(--conns - --big-topic, %d)", MaxTopics)
	case c.Users.Count < 0 || c.Users.Count > MaxUsers:
		return fmt.Errorf("bench: --users must be 0 to %d", MaxUsers)
	case c.Users.Count > 0 && len(c.Users.Secret) < MinUserSecretLength:
		return fmt.Errorf("bench: --users needs the hub's HS256 secret (--user-secret or SSE_JWT_SECRET), at least %d bytes", MinUserSecretLength)
	case c.Presence && c.Users.Count == 0:
		return errors.New("bench: --presence needs --users: the expected members follow from the users")
	case c.PresenceCalls < 0 || c.PresenceCalls > MaxPresenceCalls:
		return fmt.Errorf("bench: --presence-calls must be 0 to %d", MaxPresenceCalls)
	}
	for _, a := range c.SourceAddrs {
		if ip := net.ParseIP(a); ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return fmt.Errorf("bench: source address %q is not an IPv4 loopback address (127.0.0.0/8)", a)
		}
	}
	return nil
}

// urls returns the hub instances of the run.
func (c Config) urls() []string {
	if len(c.URLs) > 0 {
		return c.URLs
	}
	return []string{c.URL}
}

// topicConns returns the number of subscriptions that follow the Topics
// topics: all but the big topic's.
func (c Config) topicConns() int { return c.Conns - c.BigTopic }

// publishers returns how many publish requests may be in flight.
func (c Config) publishers() int {
	if c.Publishers > 0 {
		return c.Publishers
	}
	return DefaultPublishers
}

// events returns the number of events the run publishes at most: Rate x
// Duration, or MaxEvents with Rate 0.
func (c Config) events() int {
	if c.Rate == 0 {
		if c.MaxEvents > 0 {
			return c.MaxEvents
		}
		return MaxEvents
	}
	return max(int(int64(c.Rate)*int64(c.Duration)/int64(time.Second)), 1)
}

// SourceAddrs returns n loopback source addresses: 127.0.0.2, 127.0.0.3,
// ... (on Linux the whole of 127.0.0.0/8 is on the loopback interface, so
// they need no configuration). n is capped at MaxSourceAddrs.
func SourceAddrs(n int) []string {
	addrs := make([]string, 0, min(n, MaxSourceAddrs))
	for i := range min(n, MaxSourceAddrs) {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d", 2+i))
	}
	return addrs
}

// autoSourceAddrs returns the source addresses of a run that named none:
// when every hub is on an IPv4 loopback address and the run has more than
// one worker or more than StreamsPerSource streams, one per worker or per
// StreamsPerSource streams, whichever is more; otherwise none.
func autoSourceAddrs(conns, workers int, urls []string) []string {
	if workers <= 1 && conns <= StreamsPerSource {
		return nil
	}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil
		}
		ip := net.ParseIP(u.Hostname())
		if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
			return nil
		}
	}
	return SourceAddrs(max(workers, (conns+StreamsPerSource-1)/StreamsPerSource))
}

// CheckLoopback returns an error unless rawURL's host is, or resolves only
// to, loopback addresses: the bench is a load generator, for one's own
// machine only.
func CheckLoopback(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("bench: %q is not a URL", rawURL)
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("bench: resolving %s: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("bench: refusing %s: it resolves to %s, not a loopback address; bench only loads a hub on this machine", host, ip)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("bench: %s resolves to no address", host)
	}
	return nil
}

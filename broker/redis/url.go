package redis

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/ssevents/ssevents/sse"
)

func init() {
	for _, scheme := range []string{"redis", "rediss", "redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"} {
		sse.RegisterBroker(scheme, open)
	}
}

func open(ctx context.Context, u *url.URL, opts sse.BrokerOptions) (sse.Broker, error) {
	cfg, err := ParseURL(u.String())
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg, opts)
}

// DefaultTimeout bounds one Redis round trip of Publish, Subscribe and
// Ready, so that an unreachable Redis yields ErrUnavailable promptly
// instead of a hang.
const DefaultTimeout = 2 * time.Second

// Config says how to reach Redis. ParseURL fills it from a URL.
type Config struct {
	// Addrs are the "host:port" addresses of the server, of cluster
	// nodes to discover the cluster from, or of Sentinels.
	Addrs []string
	// Username and Password authenticate (ACL user or requirepass).
	Username, Password string
	// DB selects the database (not on a cluster).
	DB int
	// TLS, when set, connects with TLS.
	TLS *tls.Config
	// Cluster selects Redis Cluster: sharded Pub/Sub and per-shard
	// subscriber connections.
	Cluster bool
	// SentinelMaster, when set, names the master to ask the Sentinels
	// at Addrs for.
	SentinelMaster string
	// Timeout bounds one Redis round trip; 0 means DefaultTimeout.
	Timeout time.Duration
}

// ParseURL parses a broker URL:
//
//	redis://[user:password@]host:port[/db]           one server
//	rediss://...                                     the same over TLS
//	redis://h1:7001,h2:7002,h3:7003[/0]              several hosts: a Redis Cluster
//	redis+cluster://h1:7001[,h2:7002...]             a Redis Cluster
//	redis+sentinel://[:password@]s1:26379[,s2:26379]/master[/db]
//	                                                 Sentinels and the master's name
//
// ("rediss+cluster" and "rediss+sentinel" use TLS.) Query parameters:
// timeout=2s (see Config.Timeout), master=name (instead of the path, for
// Sentinel), skip_verify=true (TLS without certificate checks; tests only).
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%w: redis URL: %v", sse.ErrInvalidConfig, err)
	}
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: redis URL %s: %s", sse.ErrInvalidConfig, u.Redacted(), fmt.Sprintf(format, a...))
	}
	var cfg Config
	scheme, kind, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	switch scheme {
	case "redis":
	case "rediss":
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return bad("scheme must be redis or rediss")
	}
	defPort := "6379"
	switch kind {
	case "":
	case "cluster":
		cfg.Cluster = true
	case "sentinel":
		defPort = "26379"
	default:
		return bad("unknown scheme suffix %q (want +cluster or +sentinel)", kind)
	}
	cfg.Addrs = hostAddrs(u.Host, defPort)
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	path := strings.Trim(u.Path, "/")
	var parts []string
	if path != "" {
		parts = strings.Split(path, "/")
	}
	q := u.Query()
	if kind == "sentinel" {
		cfg.SentinelMaster = q.Get("master")
		if cfg.SentinelMaster == "" && len(parts) > 0 {
			cfg.SentinelMaster, parts = parts[0], parts[1:]
		}
		if cfg.SentinelMaster == "" {
			return bad("name the Sentinel master: redis+sentinel://host:26379/mymaster")
		}
	}
	if len(parts) > 1 {
		return bad("path must be /<db>")
	}
	if len(parts) == 1 {
		if cfg.DB, err = strconv.Atoi(parts[0]); err != nil || cfg.DB < 0 {
			return bad("database %q is not a number", parts[0])
		}
	}
	if kind == "" && len(cfg.Addrs) > 1 {
		cfg.Cluster = true // the fastapi-sse-events form redis://h1:7001,h2:7002,h3:7003/0
	}
	if cfg.Cluster && cfg.DB != 0 {
		return bad("a Redis Cluster has only database 0")
	}
	if v := q.Get("timeout"); v != "" {
		if cfg.Timeout, err = time.ParseDuration(v); err != nil || cfg.Timeout <= 0 {
			return bad("timeout %q is not a positive duration", v)
		}
	}
	if cfg.TLS != nil {
		cfg.TLS.ServerName, _, _ = net.SplitHostPort(cfg.Addrs[0])
		if v := q.Get("skip_verify"); v != "" {
			cfg.TLS.InsecureSkipVerify, _ = strconv.ParseBool(v)
		}
	}
	return cfg, nil
}

// hostAddrs returns the host:port addresses of a URL's comma-separated
// hosts, with defPort where a host has no port and localhost where it has
// no name; localhost:defPort when there are none.
func hostAddrs(hosts, defPort string) []string {
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			host, port = h, defPort
		}
		if host == "" {
			host = "localhost"
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort("localhost", defPort)}
	}
	return addrs
}

// pingGap is how long a Redis connection may be idle before it is PINGed:
// short enough that a cut subscriber connection is noticed in seconds (its
// events are replayed from history after the reconnect, so the cost of a
// silent cut is delay, and this bounds it), long enough to cost nothing.
const pingGap = 5 * time.Second

// clientOption returns the rueidis options for cfg.
func (cfg Config) clientOption() rueidis.ClientOption {
	opt := rueidis.ClientOption{
		InitAddress:  cfg.Addrs,
		Username:     cfg.Username,
		Password:     cfg.Password,
		SelectDB:     cfg.DB,
		TLSConfig:    cfg.TLS,
		DisableCache: true, // no client-side caching: we read streams, never cached keys
		// A dead server must fail fast: dial and write bounded by the
		// timeout. KeepAlive is also how long a connection may be idle
		// before rueidis PINGs it (answer within the timeout or the
		// connection is dropped): a subscriber connection that a network
		// partition silently cut is found within pingGap + Timeout.
		Dialer:           net.Dialer{Timeout: cfg.Timeout, KeepAlive: pingGap},
		ConnWriteTimeout: cfg.Timeout,
	}
	if cfg.SentinelMaster != "" {
		opt.Sentinel = rueidis.SentinelOption{MasterSet: cfg.SentinelMaster, Username: cfg.Username, Password: cfg.Password}
	}
	if !cfg.Cluster && cfg.SentinelMaster == "" {
		opt.ForceSingleClient = true
	}
	return opt
}

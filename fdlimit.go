package ssevents

// The default of MaxConnections follows the process's open-file limit
// (RLIMIT_NOFILE): every stream holds one descriptor, and the descriptors
// the hub needs besides (its listening sockets, Redis connections, log
// files, the publish requests and webhook calls in flight, the Go runtime's
// own) are kept free as a headroom of max(MinConnectionHeadroom, 5% of the
// limit). A limit of 20000 gives 19000 streams; 1024 gives 768.
const (
	// MinConnectionHeadroom is the least number of open files that the
	// default MaxConnections leaves for the hub's other files.
	MinConnectionHeadroom = 256
	// ConnectionHeadroomPercent is the share of the open-file limit, in
	// percent, that the default MaxConnections leaves for the hub's other
	// files when it is more than MinConnectionHeadroom.
	ConnectionHeadroomPercent = 5
	// MaxMaxConnections is the largest MaxConnections accepted, and its
	// default where the open-file limit is unlimited or larger.
	MaxMaxConnections = 1_000_000
)

// MaxConnectionsForFileLimit is the default MaxConnections for an
// open-file limit: limit minus max(MinConnectionHeadroom,
// ConnectionHeadroomPercent% of limit, rounded down), at least 1 and at most
// MaxMaxConnections. When the limit could not be read (ok false) it is
// DefaultMaxConnections. An unlimited limit (RLIM_INFINITY) is a huge
// number and so gives MaxMaxConnections.
func MaxConnectionsForFileLimit(limit uint64, ok bool) int {
	if !ok {
		return DefaultMaxConnections
	}
	headroom := max(MinConnectionHeadroom, limit/100*ConnectionHeadroomPercent)
	if limit <= headroom {
		return 1
	}
	return int(min(limit-headroom, MaxMaxConnections))
}

// ProcessMaxConnections is the default MaxConnections of this process:
// MaxConnectionsForFileLimit of its current soft open-file limit. The Go
// runtime raises the soft limit to the hard limit at start on Unix
// systems, so it is the hard limit unless the program lowered it. Where
// the limit cannot be read (not a Unix system) it is DefaultMaxConnections.
func ProcessMaxConnections() int { return MaxConnectionsForFileLimit(openFileLimit()) }

package main

import (
	"os"
	"strconv"
	"strings"
)

// listenCounters are the kernel's TcpExt counters that show a listen
// queue overflowing: connections whose handshake completed while the
// accept queue was full (their ACK dropped; the client believes it is
// connected and its request waits for a retransmission), and SYN cookies
// sent because the SYN queue was full. They count for the whole machine
// (network namespace), so they are read just before and after the storm.
var listenCounters = []string{"ListenOverflows", "ListenDrops", "SyncookiesSent", "TCPReqQFullDoCookies", "TCPReqQFullDrop"}

// tcpExt reads the TcpExt counters of /proc/net/netstat; nil when it
// cannot.
func tcpExt() map[string]int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok1 := strings.CutPrefix(lines[i], "TcpExt:")
		values, ok2 := strings.CutPrefix(lines[i+1], "TcpExt:")
		if !ok1 || !ok2 {
			continue
		}
		n, v := strings.Fields(names), strings.Fields(values)
		m := make(map[string]int64, len(n))
		for j := range min(len(n), len(v)) {
			m[n[j]], _ = strconv.ParseInt(v[j], 10, 64)
		}
		return m
	}
	return nil
}

// netDelta is after minus before for each of listenCounters, as
// "ListenOverflows 12, ...", or "unavailable".
func netDelta(before, after map[string]int64) string {
	if before == nil || after == nil {
		return "unavailable"
	}
	var parts []string
	for _, k := range listenCounters {
		parts = append(parts, k+" "+strconv.FormatInt(after[k]-before[k], 10))
	}
	return strings.Join(parts, ", ")
}

// Package faultproxy runs a TCP proxy in the test process, in front of a
// real server (a redis-server), and injects network faults into the
// connections through it: a blackhole (data stops flowing, connections
// stay open), latency, and cut connections. It is Shopify's toxiproxy used
// as a library, with no API server and no logs.
package faultproxy

// Package faults holds the fault tests of ssevents: real redis-server
// processes behind an in-process TCP fault proxy (package faultproxy) that
// blackholes, delays and cuts the brokers' connections. It is a module of
// its own so that the proxy's dependencies (Shopify's toxiproxy) stay out
// of the core module. The package has no code besides its tests.
package faults

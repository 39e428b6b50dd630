// Package settings declares configuration settings once (variable, flag,
// kind, default, allowed range, help) and derives from that declaration
// reading SSE_* variables, command-line flags, help text and validation.
//
// It is a small table of our own rather than a flag library such as
// peterbourgon/ff: the core module then keeps its short dependency list,
// and the same declaration also validates a Config built in Go (Validate)
// and is checked against the README's tables, which a flag library does
// not do.
package settings

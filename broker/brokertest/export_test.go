package brokertest

import (
	"testing"

	"github.com/ssevents/ssevents/sse"
)

// SuiteTests returns the conformance tests by name, for this package's
// tests, which run them against broken brokers.
func SuiteTests() map[string]func(testing.TB, sse.Broker) {
	out := make(map[string]func(testing.TB, sse.Broker), len(suite))
	for _, tt := range suite {
		out[tt.name] = tt.fn
	}
	return out
}

// PositionSuiteTests returns the position tests by name, for this
// package's tests, which run them against broken brokers.
func PositionSuiteTests() map[string]func(testing.TB, sse.Broker, sse.Broker) {
	out := make(map[string]func(testing.TB, sse.Broker, sse.Broker), len(positionSuite))
	for _, tt := range positionSuite {
		out[tt.name] = tt.fn
	}
	return out
}

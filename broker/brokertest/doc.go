// Package brokertest is the conformance suite every sse.Broker must
// pass: the embedded broker and the Redis broker run the same tests, so a
// subscriber cannot tell which one it is talking to.
//
// A backend's test calls Run with a function that opens a fresh broker
// configured with Options(), wrapped so that it is an InFlightHolder (its
// in-flight test hook, reached through the package's export_test.go):
//
//	type holder struct{ *memory.Broker }
//
//	func (h holder) SetInFlightHook(f func(sse.Message)) { memory.SetInFlightHook(h.Broker, f) }
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T) sse.Broker {
//			return holder{memory.New(brokertest.Options())}
//		})
//	}
//
// Every subtest uses topics of its own, so brokers opened by one open
// function may share a backend (one Redis for the whole suite).
//
// It imports the contracts (package sse) and internal/streamid only.
package brokertest

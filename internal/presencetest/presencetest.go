// Package presencetest is the conformance suite every sse.PresenceStore
// must pass: the embedded broker's store and the Redis one run the same
// tests, so that the hub cannot tell which one it is talking to.
//
// A backend's test calls Run with an Opener, which returns one store, or
// several instances that share one backend (the Redis broker: several
// instances on one Redis). With several, Run adds the cases across
// instances: one member counted on two instances, the joins and leaves
// seen by every instance, the outbox delivering each change once.
//
//	func TestPresenceConformance(t *testing.T) {
//		presencetest.Run(t, func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore {
//			b := memory.New(sse.BrokerOptions{})
//			s, err := b.Presence(opts)
//			...
//			t.Cleanup(func() { s.Close(); b.Close() })
//			return []sse.PresenceStore{s}
//		})
//	}
//
// Each call of the Opener must return stores of their own: their Watch
// functions and their outbox must not see the changes of the stores of
// another call (one database or key prefix per call). Topics are unique
// to each subtest anyway. The Opener closes its stores in t.Cleanup.
//
// The suite uses a short Grace (Grace) and TTL (TTL), and expects an
// event that Next handed out and nobody acked to be handed out again
// about TTL later. It waits for every state it expects (WaitLimit at
// most) rather than sleeping, and waits for a later change (a sentinel
// member's) where it asserts that something did not happen.
//
// It imports the contracts (package sse) only.
package presencetest

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Opener returns one store, or several instances of a store that share
// one backend, opened with opts; it closes them in t.Cleanup.
type Opener func(t *testing.T, opts sse.PresenceOptions) []sse.PresenceStore

// Settings of the suite.
const (
	// Grace is the suite's grace period: short, so that leaves come soon.
	Grace = 150 * time.Millisecond
	// TTL is the suite's TTL: unacked outbox events are handed out again
	// about this long after Next returned them.
	TTL = time.Second
	// WaitLimit is how long the suite waits for a state before it fails.
	WaitLimit = 10 * time.Second
)

// Options returns the options the suite opens stores with (before each
// case's changes, such as Outbox).
func Options() sse.PresenceOptions {
	return sse.PresenceOptions{Grace: Grace, TTL: TTL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// suiteCase is a conformance test.
type suiteCase struct {
	name string
	// opts changes the suite's options for the case (nil: none).
	opts func(*sse.PresenceOptions)
	run  func(t testing.TB, stores []sse.PresenceStore)
}

// singleCases run on every store.
var singleCases = []suiteCase{
	{name: "JoinOncePerUser", run: testJoinOncePerUser},
	{name: "AnonymousCountedNotListed", run: testAnonymous},
	{name: "ConnectionCounts", opts: longGrace, run: testConnectionCounts},
	{name: "LeaveAfterGrace", run: testLeaveAfterGrace},
	{name: "ReconnectWithinGrace", run: testReconnectWithinGrace},
	{name: "InfoReplaced", run: testInfoReplaced},
	{name: "SnapshotLimit", run: testSnapshotLimit},
	{name: "ThousandUsers", run: testThousandUsers},
	{name: "WatchOrder", run: testWatchOrder},
	{name: "Outbox", opts: withOutbox, run: testOutbox},
	{name: "NoOutbox", run: testNoOutbox},
}

// crossCases run when the Opener returns several instances.
var crossCases = []suiteCase{
	{name: "CrossInstanceMember", run: testCrossMember},
	{name: "CrossInstanceOutbox", opts: withOutbox, run: testCrossOutbox},
}

// longGrace gives a case time to look at members in their grace period.
func longGrace(o *sse.PresenceOptions) { o.Grace = WaitLimit }

// withOutbox turns the outbox on.
func withOutbox(o *sse.PresenceOptions) { o.Outbox = true }

// Run runs the conformance suite on the stores open returns, each case
// in parallel on stores of its own; the cases across instances only when
// open returns more than one (Run opens once first, with t, to count
// them).
func Run(t *testing.T, open Opener) {
	cases := singleCases
	if n := len(open(t, Options())); n > 1 {
		cases = append(cases[:len(cases):len(cases)], crossCases...)
	} else if n == 0 {
		t.Fatal("the Opener returned no store")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := Options()
			if c.opts != nil {
				c.opts(&opts)
			}
			c.run(t, open(t, opts))
		})
	}
}

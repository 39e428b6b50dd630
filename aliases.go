package ssevents

import "github.com/ssevents/ssevents/sse"

// The contract types a server user meets most, under their names in this
// package, so that code written against the one-package API keeps
// compiling. The contracts themselves, the errors and the rules live in
// package sse.
type (
	// Event is sse.Event: one published event as a subscriber receives it.
	Event = sse.Event
	// Message is sse.Message: what a publisher sends.
	Message = sse.Message
	// Broker is sse.Broker: moves events from publishers to subscribers.
	Broker = sse.Broker
)

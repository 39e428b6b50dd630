// Package sse holds the contracts of ssevents, the types every part of it
// shares: Event and Message and the rules for topics, event names and
// idempotency keys; Broker and Subscription, the contract every broker
// implements, with its registry by URL scheme (RegisterBroker, OpenBroker),
// the bounded per-subscriber Queue brokers deliver into and the Observer
// (and EnvelopeObserver, for malformed channel messages) brokers report to; the errors, with the one table that maps them to HTTP
// statuses (HTTPStatus); and the JSON types of the hub's publish API.
//
// It imports only the standard library, so a client or a broker that
// depends on it pulls in neither the server nor Prometheus. The server is
// the root package ssevents; brokers are the packages under broker/.
package sse

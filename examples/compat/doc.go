// Package compat holds the tests that third-party SSE readers still work
// on a stream of several topics, whose events carry ssevents' "topic:"
// line, a field the SSE standard makes every reader ignore: headless
// Chromium's EventSource and the npm eventsource package (node/, installed
// with npm ci into a temporary directory). Python's httpx-sse is checked
// by scripts/compat/httpx-sse.sh, which needs PyPI.
//
// Each reader must get named events and "message" events, with their
// data and ids, exactly as on a stream without the field.
package compat

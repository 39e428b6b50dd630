// Package jsclient tests @ssevents/client (clients/js), as the hub serves
// it at /ssevents.js, in headless Chromium: the bearer header from
// getToken, a token refreshed on token_expired, ten tabs of one origin
// over HTTP/1.1 sharing one stream, and a leader tab that closes while
// events flow, its stream taken over without loss or duplicate.
package jsclient

// Package hubdemo holds the browser tests of the demo page that
// `ssevents serve` shows at / (hub/demo): headless Chromium subscribes,
// the tests publish, and the page must show every event whatever its name,
// follow topic changes, show the hub's resync and token_expired events and
// the state of its connection. Its test flag -demo.screenshot regenerates
// the README's screenshot, docs/demo.png (a relative path is relative to
// this directory, where go test runs the test):
//
//	cd examples && go test -run TestDemoPage_screenshot ./hubdemo -demo.screenshot=../../docs/demo.png
package hubdemo

package main

import (
	"testing"
	"time"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
)

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }

// The README's promise, in a browser: the page of the quickstart program,
// open in two windows, imports the client the app serves at /ssevents.js;
// a click in one changes the ticket through the program's own handler,
// and both windows show the new status from the event that handler
// published.
func TestQuickstart_page(t *testing.T) {
	base := startProgram(t)
	b := browsertest.Shared(t)
	one := b.NewPage(t, base+"/")
	two := b.NewPage(t, base+"/")
	for _, p := range []*browsertest.Page{one, two} {
		p.WaitFor("the stream open", `document.getElementById('state').dataset.state === 'open'`, 10*time.Second)
		p.WaitFor("the ticket loaded", `document.getElementById('status').dataset.status === 'open'`, 10*time.Second)
	}
	one.Click("#close")
	for _, p := range []*browsertest.Page{one, two} {
		p.WaitFor("the ticket closed", `document.getElementById('status').dataset.status === 'closed'`, 10*time.Second)
		p.WaitFor("the event logged", `document.getElementById('log').textContent.startsWith('ticket_status_changed ')`, 10*time.Second)
	}
}

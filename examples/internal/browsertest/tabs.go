package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// NewTab opens another tab in p's browser context and navigates to url:
// the two tabs share cookies, storage, Web Locks and BroadcastChannel, as
// two tabs of one person's browser do. Closing p's own tab (if p came from
// NewTab) leaves the others open; closing a page from NewPage disposes of
// its whole browser context.
func (p *Page) NewTab(t testing.TB, url string) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(p.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: open tab: %v", err)
	}
	tab := &Page{t: t, ctx: ctx}
	tab.Do(chromedp.Navigate(url))
	return tab
}

// Close closes the page's tab, as a person closing it would (its unload
// handlers run, its Web Locks are released).
func (p *Page) Close() {
	p.t.Helper()
	if err := chromedp.Cancel(p.ctx); err != nil {
		p.t.Fatalf("browser: close tab: %v", err)
	}
}

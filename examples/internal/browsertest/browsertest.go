// Package browsertest starts headless Chromium for the examples' browser
// tests and gives them a few helpers on top of chromedp: open a page in a
// fresh browser context (its own cookie jar), wait for a JavaScript
// predicate, read a value.
//
// Chromium comes from Debian (apt-get install -y chromium). A missing
// browser fails the test with a message saying so: it is never skipped.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ExecPath returns the Chromium binary to drive: $CHROMIUM_PATH, else
// /usr/bin/chromium, else chromium or chromium-browser on $PATH.
func ExecPath() (string, error) {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found: install it with `apt-get install -y chromium` (or set CHROMIUM_PATH)")
}

// Browser is one headless Chromium process.
type Browser struct {
	ctx context.Context // the root chromedp context; its first tab is never used
}

// New starts Chromium with a fresh user data directory and stops it when
// the test ends. It fails the test when Chromium is missing.
func New(t testing.TB) *Browser {
	t.Helper()
	b, stop, err := start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return b
}

// NewWith is New with extra launch options after the usual ones, for a
// test that needs a flag the other tests must not get (such as
// chromedp.Flag("ignore-certificate-errors-spki-list", hash) to trust a
// test's own certificate).
func NewWith(t testing.TB, opts ...chromedp.ExecAllocatorOption) *Browser {
	t.Helper()
	b, stop, err := start(t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return b
}

var shared struct {
	once sync.Once
	b    *Browser
	stop func()
	dir  string
	err  error
}

// Shared returns the package's one Chromium, started by its first caller
// and stopped by Main: the tests of a package open their pages (each in its
// own browser context) in one browser instead of starting one each. It
// fails the test when Chromium is missing or does not start.
func Shared(t testing.TB) *Browser {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "browsertest-")
		if shared.err == nil {
			shared.b, shared.stop, shared.err = start(shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.b
}

// Main runs the package's tests, then stops the browser Shared started.
// Use it as the package's TestMain: func TestMain(m *testing.M) { browsertest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// start launches Chromium with its profile in dir, with the extra options
// after the usual ones.
func start(dir string, extra ...chromedp.ExecAllocatorOption) (*Browser, func(), error) {
	path, err := ExecPath()
	if err != nil {
		return nil, nil, err
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Pages of a test are often in background tabs; their timers and
		// EventSource reconnects must run at full speed.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.WindowSize(1200, 900),
	}
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	stop := func() {
		cancel()
		cancelAlloc()
	}
	// The first Run starts the browser; it must not carry a timeout, which
	// would stop the whole browser when it expires.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return &Browser{ctx: ctx}, stop, nil
}

// Page is one tab in its own browser context, so two pages never share
// cookies or storage: they are like two people at two computers.
type Page struct {
	t   testing.TB
	ctx context.Context
}

// NewPage opens a tab in a new browser context and navigates to url.
func (b *Browser) NewPage(t testing.TB, url string) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Run on a context opens its tab, which then lives as long
	// as the context of that Run: it must be ctx itself, not a child with
	// a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: open tab: %v", err)
	}
	p := &Page{t: t, ctx: ctx}
	p.Do(chromedp.Navigate(url))
	return p
}

// Context returns the page's chromedp context, for actions the helpers do
// not cover.
func (p *Page) Context() context.Context { return p.ctx }

// actionTimeout bounds any single helper action, so that a broken page
// fails the test in seconds instead of hanging until the test deadline.
const actionTimeout = 10 * time.Second

// Do runs the actions, failing the test on error.
func (p *Page) Do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// Eval evaluates expr in the page and decodes its JSON value into T,
// failing the test on error.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// WaitFor polls the JavaScript predicate expr on every animation frame
// until it is truthy, and fails the test when it is not within timeout.
// what describes the awaited state in the failure message.
func (p *Page) WaitFor(what, expr string, timeout time.Duration) {
	p.t.Helper()
	if err := p.Poll(expr, timeout); err != nil {
		p.t.Fatalf("browser: %s: not within %v (predicate %s): %v", what, timeout, expr, err)
	}
}

// Poll is WaitFor returning the error instead of failing the test.
func (p *Page) Poll(expr string, timeout time.Duration) error {
	// The context's deadline is a little longer than the poll's own
	// timeout, so that the poll reports ErrPollingTimeout itself.
	ctx, cancel := context.WithTimeout(p.ctx, timeout+2*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond)))
	return err
}

// Screenshot saves a PNG of the page to path, for a person to look at.
func (p *Page) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return os.WriteFile(path, png, 0o644)
}

// SetValue sets the value of the first element matching the CSS selector.
func (p *Page) SetValue(sel, value string) {
	p.t.Helper()
	p.Do(chromedp.SetValue(chromedp.CSS(sel), value))
}

// Click clicks the first element matching the CSS selector, as a user
// would (a real mouse event at its position).
func (p *Page) Click(sel string) {
	p.t.Helper()
	p.Do(chromedp.Click(chromedp.CSS(sel)))
}

// SaveScreenshot writes a PNG of the page to $SSEVENTS_SCREENSHOTS/name.png
// when that variable names a directory, for a person to look at what the
// test saw. Without it, it does nothing.
func (p *Page) SaveScreenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("SSEVENTS_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := p.Screenshot(filepath.Join(dir, name+".png")); err != nil {
		p.t.Errorf("browser: %v", err)
	}
}

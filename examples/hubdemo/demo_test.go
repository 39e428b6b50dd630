package hubdemo_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/broker/memory"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/examples/internal/ssetest"
	"github.com/ssevents/ssevents/examples/internal/testserver"
	"github.com/ssevents/ssevents/hub"
	"github.com/ssevents/ssevents/sse"
)

// screenshot, when set, is where TestDemoPage_screenshot writes its PNG
// of the page. A relative path is relative to this package's directory,
// where go test runs the test: ../../docs/demo.png is the README's.
var screenshot = flag.String("demo.screenshot", "", "write a PNG of the demo page (1200x800) to this path, relative to examples/hubdemo (the README's: ../../docs/demo.png)")

// TestMain shares one Chromium between the package's browser tests.
func TestMain(m *testing.M) { browsertest.Main(m) }

// arrival bounds how long a published event may take to show on the page
// (a behaviour bound, not a speed measurement: it is normally milliseconds).
const arrival = time.Second

// startHub serves a hub made from cfg on a loopback port until the test
// ends.
func startHub(t *testing.T, cfg hub.Config) (*hub.Hub, *testserver.Server) {
	t.Helper()
	h := newHub(t, cfg)
	return h, testserver.Start(t, h, h.Close)
}

func newHub(t *testing.T, cfg hub.Config) *hub.Hub {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := hub.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// publish posts an event to the hub's publish API and returns its id.
func publish(t *testing.T, base, topic, event, data string) string {
	t.Helper()
	body := fmt.Sprintf(`{"topic": %q, "event": %q, "data": %s}`, topic, event, data)
	var resp struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(ssetest.Request(t, http.MethodPost, base+"/publish", "application/json", body, http.StatusOK)), &resp); err != nil || resp.ID == "" {
		t.Fatalf("publish %s: id %q, %v", body, resp.ID, err)
	}
	return resp.ID
}

// row is one line of the page's event table.
type row struct {
	Event string `json:"event"` // the row's data-event
	Class string `json:"class"`
	Name  string `json:"name"`
	ID    string `json:"id"`
	Topic string `json:"topic"`
	Data  string `json:"data"` // the data, without the note
	Note  string `json:"note"`
}

// rowsJS lists the table's rows, newest first.
const rowsJS = `[...document.querySelectorAll('#events tr')].map((r) => ({
	event: r.dataset.event, class: r.className, name: r.cells[1].textContent, id: r.cells[2].textContent,
	topic: r.cells[3].textContent, data: r.cells[4].lastChild ? r.cells[4].lastChild.textContent : "",
	note: (r.querySelector('.note') || {}).textContent || ""}))`

func rows(p *browsertest.Page) []row { return browsertest.Eval[[]row](p, rowsJS) }

// rowOf returns the page's row for the event name, failing the test when
// there is not exactly one.
func rowOf(t *testing.T, p *browsertest.Page, event string) row {
	t.Helper()
	var found []row
	for _, r := range rows(p) {
		if r.Event == event {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rows for %q: %+v, want one", event, found)
	}
	return found[0]
}

func waitRow(p *browsertest.Page, event string, within time.Duration) {
	p.WaitFor(event+" shows", fmt.Sprintf(`document.querySelector('#events tr[data-event=%q]') !== null`, event), within)
}

func waitState(p *browsertest.Page, state string, within time.Duration) {
	p.WaitFor("status "+state, fmt.Sprintf(`document.getElementById('status').dataset.state === %q`, state), within)
}

func status(p *browsertest.Page) string {
	return browsertest.Eval[string](p, `document.getElementById('status').textContent`)
}

// TestDemoPage_showsEveryEventName publishes events whose names the page has
// never heard of: each shows within a second, with its id, its topic and
// its data pretty-printed.
func TestDemoPage_showsEveryEventName(t *testing.T) {
	_, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/")
	waitState(p, "open", 5*time.Second)
	if got := browsertest.Eval[string](p, `document.getElementById('sub-topics').value`); got != "comments, demo" {
		t.Errorf("default topics %q, want comments and demo", got)
	}

	id := publish(t, srv.URL, "comments", "never_seen_before_xyz", `{"topic": "comments", "n": 42, "html": "<b>x</b>"}`)
	waitRow(p, "never_seen_before_xyz", arrival)
	got := rowOf(t, p, "never_seen_before_xyz")
	want := row{Event: "never_seen_before_xyz", Name: "never_seen_before_xyz", ID: id, Topic: "comments",
		Data: "{\n  \"topic\": \"comments\",\n  \"n\": 42,\n  \"html\": \"<b>x</b>\"\n}"}
	if got != want {
		t.Errorf("row\n%+v, want\n%+v", got, want)
	}
	if n := browsertest.Eval[int](p, `document.querySelectorAll('#events b').length`); n != 0 {
		t.Errorf("the data was rendered as HTML (%d <b> elements)", n)
	}

	// A payload without a topic: the page names the topic the stream's
	// topic line gives.
	id2 := publish(t, srv.URL, "demo", "another.unheard-of:name", `"plain"`)
	waitRow(p, "another.unheard-of:name", arrival)
	got = rowOf(t, p, "another.unheard-of:name")
	if got.ID != id2 || got.Data != `"plain"` || got.Topic != "demo" {
		t.Errorf("row %+v, want id %s, data \"plain\" and topic demo", got, id2)
	}
}

// TestDemoPage_topicsApplyOnEnter types new topics and presses Enter: the
// page reconnects to them (no Disconnect/Connect), its curl line follows,
// that curl command publishes to them, and the old topic is no longer shown.
func TestDemoPage_topicsApplyOnEnter(t *testing.T) {
	h, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/")
	waitState(p, "open", 5*time.Second)

	// Select the field's text, then type over it, as a user would.
	browsertest.Eval[bool](p, `(() => { const el = document.getElementById('sub-topics'); el.focus(); el.select(); return true; })()`)
	p.Do(chromedp.SendKeys("#sub-topics", "orders:7"+kb.Enter))
	p.WaitFor("open on the new topic", `document.getElementById('status').textContent === 'open: orders:7'`, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for h.App().Events().Connections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the hub has %d streams after the topic change, want 1 (the old one closed)", h.App().Events().Connections())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if u := browsertest.Eval[string](p, `location.search`); u != "?topic=orders%3A7" {
		t.Errorf("page URL query %q, want the new topics", u)
	}

	publish(t, srv.URL, "comments", "old_topic_event", `{}`)
	id := publish(t, srv.URL, "orders:7", "new_topic_event", `{"total": 12}`)
	waitRow(p, "new_topic_event", arrival)
	if r := rowOf(t, p, "new_topic_event"); r.ID != id || r.Topic != "orders:7" {
		t.Errorf("row %+v, want id %s on orders:7", r, id)
	}

	// The instructions' curl command publishes to the new topic, as is.
	curl := browsertest.Eval[string](p, `document.getElementById('curl').textContent`)
	wantCurl := `curl -X POST ` + srv.URL + `/publish -d '{"topic":"orders:7","event":"update","data":{"id":1}}'`
	if curl != wantCurl {
		t.Fatalf("curl line %q, want %q", curl, wantCurl)
	}
	if out, err := exec.CommandContext(t.Context(), "sh", "-c", curl+" --silent --show-error --fail").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", curl, err, out)
	}
	waitRow(p, "update", arrival)
	if r := rowOf(t, p, "update"); r.Topic != "orders:7" || r.Data != "{\n  \"id\": 1\n}" {
		t.Errorf("curl's event: row %+v", r)
	}
	for _, r := range rows(p) {
		if r.Event == "old_topic_event" {
			t.Errorf("an event of the old topic shows: %+v", r)
		}
	}
}

// TestDemoPage_resync resumes from an id the hub does not know (the page's
// ?lastEventId=): the hub's resync event shows with its badge and note.
func TestDemoPage_resync(t *testing.T) {
	_, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/?topic=comments&lastEventId=bogus-id")
	waitRow(p, "resync", 5*time.Second)
	waitState(p, "open", 5*time.Second)
	id := publish(t, srv.URL, "comments", "comment_created", `{"id": 3}`)
	waitRow(p, "comment_created", arrival)

	r := rowOf(t, p, "resync")
	if r.Class != "special resync" || r.Topic != "comments" || !strings.Contains(r.Note, "refetch") ||
		!strings.Contains(r.Note, "[dataset_changed]") ||
		!strings.HasPrefix(r.Data, "{\n  \"topics\": [\n    \"comments\"\n  ],\n  \"topic\": \"comments\",\n  \"reason\": \"dataset_changed\",") {
		t.Errorf("resync row %+v, want its class, topic, note with the reason and data", r)
	}
	if r := rowOf(t, p, "comment_created"); r.ID != id || r.Class != "" || r.Note != "" {
		t.Errorf("ordinary row %+v", r)
	}
	// Distinct to the eye: another background and a badge before the name.
	look := browsertest.Eval[[]string](p, `[...document.querySelectorAll('#events tr')].flatMap((r) => [
		getComputedStyle(r.cells[1]).backgroundColor, getComputedStyle(r.cells[1], '::before').content])`)
	if len(look) != 4 || look[0] == look[2] || look[3] != `"hub"` || look[1] == `"hub"` {
		t.Errorf("styles (ordinary row: background, badge; resync row: background, badge) = %q, want a resync row that looks different", look)
	}
}

// hs256 mints a token for the hub's JWT secret.
func hs256(t *testing.T, secret string, claims map[string]any) string {
	return ssetest.HS256(t, secret, claims)
}

// TestDemoPage_tokenExpiredAndRefusals subscribes with a token that
// expires: refused without it (status and the hub's message), open with
// it, then the token_expired event with its note, and the refused
// reconnection that follows.
func TestDemoPage_tokenExpiredAndRefusals(t *testing.T) {
	secret := strings.Repeat("s", hub.MinJWTSecretLength)
	_, srv := startHub(t, hub.Config{Config: ssevents.Config{Retry: 100 * time.Millisecond}, JWTSecret: secret})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/?topic=comments")
	waitState(p, "closed", 5*time.Second)
	if s := status(p); !strings.HasPrefix(s, "closed: HTTP 401 Unauthorized: ") || !strings.Contains(s, "missing token") {
		t.Errorf("status %q, want the 401 and the hub's message", s)
	}

	token := hs256(t, secret, map[string]any{"sub": "7", "exp": time.Now().Add(3 * time.Second).Unix(),
		"sse": map[string]any{"subscribe": []string{"comments"}}})
	// Pasted (typing it key by key could outlast it), then Enter.
	p.Do(chromedp.SetValue("#token", token), chromedp.SendKeys("#token", kb.Enter))
	waitState(p, "open", 5*time.Second)
	if curl := browsertest.Eval[string](p, `document.getElementById('curl').textContent`); !strings.Contains(curl, "-H 'Authorization: Bearer "+token+"'") {
		t.Errorf("curl line %q lacks the token", curl)
	}
	waitRow(p, "token_expired", 8*time.Second)
	r := rowOf(t, p, "token_expired")
	if r.Class != "special token_expired" || !strings.Contains(r.Note, "token expired") || !strings.Contains(r.Data, `"exp"`) {
		t.Errorf("token_expired row %+v", r)
	}
	// The page reconnected by itself with the same, expired, token.
	waitState(p, "closed", 5*time.Second)
	if s := status(p); !strings.HasPrefix(s, "closed: HTTP 401 Unauthorized: ") || !strings.Contains(s, "expired") {
		t.Errorf("status %q, want the 401 for the expired token", s)
	}
}

// TestDemoPage_reconnectsWithLastEventID stops the hub: the page says it
// is reconnecting (delay and attempt), and once a hub on the same broker
// is back, it resumes with Last-Event-ID and shows what was published
// meanwhile, with no resync.
func TestDemoPage_reconnectsWithLastEventID(t *testing.T) {
	broker := memory.New(sse.BrokerOptions{})
	t.Cleanup(func() { _ = broker.Close() })
	cfg := hub.Config{Config: ssevents.Config{Broker: broker, Retry: 200 * time.Millisecond}}
	_, srv := startHub(t, cfg)
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/?topic=comments")
	waitState(p, "open", 5*time.Second)
	publish(t, srv.URL, "comments", "before_restart", `{}`)
	waitRow(p, "before_restart", arrival)

	srv.Stop()
	p.WaitFor("reconnecting with a delay and an attempt count",
		`/^reconnecting in \d+ s, attempt [1-9]\d* \(.+\)$/.test(document.getElementById('status').textContent)`, 5*time.Second)
	h2 := newHub(t, cfg)
	id, err := h2.App().Publish(t.Context(), "comments", "while_down", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	srv.Restart(h2, h2.Close)
	waitRow(p, "while_down", 10*time.Second)
	waitState(p, "open", 5*time.Second)
	if r := rowOf(t, p, "while_down"); r.ID != id {
		t.Errorf("replayed row %+v, want id %s", r, id)
	}
	for _, r := range rows(p) {
		if r.Event == "resync" {
			t.Errorf("resync after a resume the history covers: %+v", r)
		}
	}
}

// TestDemoPage_parser feeds the page's stream parser awkward input: CRLF,
// CR and LF line ends, a CRLF cut between two chunks, comments, multi-line
// data, an event without data, an id with NUL, retry lines, an
// unfinished event at the end.
func TestDemoPage_parser(t *testing.T) {
	_, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/")
	type event struct {
		Type        string `json:"type"`
		Data        string `json:"data"`
		ID          string `json:"id"`
		LastEventID string `json:"lastEventId"`
	}
	type result struct {
		Events []event `json:"events"`
		Retry  []int   `json:"retry"`
		Last   string  `json:"last"`
	}
	got := browsertest.Eval[result](p, `(() => {
		const events = [], retry = [];
		const p = new SSEParser((ev) => events.push(ev), (ms) => retry.push(ms), "0");
		["retry: 1500\r", "\n: a comment\r\nid: 7\r\nevent: one\r\ndata: a\r", "\ndata:b\r\r",
		 "data\n\nid: 8\nevent: two\nda", "ta: {\"x\"", ":1}\n", "\nid: 9\n\n",
		 "id: bad\u0000id\ndata:  two spaces\nfoo: bar\n\nretry: 1x\nretry\ndata: unfinished"].forEach((c) => p.push(c));
		return {events, retry, last: p.lastEventId};
	})()`)
	want := result{
		Events: []event{
			{"one", "a\nb", "7", "7"},
			{"message", "", "", "7"},
			{"two", `{"x":1}`, "8", "8"},
			{"message", " two spaces", "", "9"},
		},
		Retry: []int{1500},
		Last:  "9",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed\n%+v, want\n%+v", got, want)
	}
}

// TestDemoPage_screenshot publishes a comment_created event from the
// page's own form and one with a name the page does not know from Go,
// checks that the inputs leave room for underscores, and with
// -demo.screenshot=path saves the page (1200x800) as a PNG there: the
// README's docs/demo.png comes from
//
//	cd examples && go test -run TestDemoPage_screenshot ./hubdemo -demo.screenshot=../../docs/demo.png
//
// (a relative path is relative to examples/hubdemo, where the test runs).
func TestDemoPage_screenshot(t *testing.T) {
	_, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/")
	p.Do(chromedp.EmulateViewport(1200, 800))
	waitState(p, "open", 5*time.Second)

	p.Click(`#publish button[type=submit]`) // the form's defaults: comment_created on comments
	waitRow(p, "comment_created", arrival)
	p.WaitFor("the form says it published", `document.getElementById('pub-result').textContent.startsWith('published, id ')`, 5*time.Second)
	publish(t, srv.URL, "demo", "invoice_paid", `{"invoice": "INV_2031", "amount": 129.5, "currency": "EUR"}`)
	waitRow(p, "invoice_paid", arrival)
	if r := rowOf(t, p, "comment_created"); r.Topic != "comments" || r.Data != "{\n  \"id\": 1,\n  \"text\": \"hello\"\n}" {
		t.Errorf("comment_created row %+v", r)
	}

	// Underscores sit below the font's descent: the line box of every
	// input must reach the bottom of "_", and the input's content box must
	// hold the line box, or the field clips them ("comment created"). So
	// must the placeholder's own box (normal line height) unless it lets
	// its text overflow ("?access token=").
	clipped := browsertest.Eval[[]string](p, `[...document.querySelectorAll('input, textarea')].flatMap((el) => {
		const cs = getComputedStyle(el);
		const ctx = document.createElement('canvas').getContext('2d');
		ctx.font = cs.fontSize + ' ' + cs.fontFamily;
		const m = ctx.measureText('_');
		const fontHeight = m.fontBoundingBoxAscent + m.fontBoundingBoxDescent;
		const bottom = (box) => (box - fontHeight) / 2 + m.fontBoundingBoxAscent + m.actualBoundingBoxDescent;
		const lh = cs.lineHeight === 'normal' ? fontHeight : parseFloat(cs.lineHeight);
		const content = el.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
		const bad = [];
		if (!(lh >= bottom(lh) && content + 0.5 >= lh)) {
			bad.push(el.id + ': line-height ' + cs.lineHeight + ', bottom of _ ' + bottom(lh) + ', content height ' + content);
		}
		const ph = getComputedStyle(el, '::placeholder');
		const phHeight = ph.height === 'auto' ? fontHeight : parseFloat(ph.height); // auto: not shown now
		if (el.placeholder && ph.overflow !== 'visible' && !(phHeight >= bottom(phHeight))) {
			bad.push(el.id + ' placeholder: height ' + phHeight + ', overflow ' + ph.overflow + ', bottom of _ ' + bottom(phHeight));
		}
		return bad;
	})`)
	if len(clipped) > 0 {
		t.Errorf("inputs that clip underscores: %q", clipped)
	}

	if *screenshot == "" {
		return
	}
	png, err := chromedp.Run(p.Context(), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", *screenshot, len(png))
}

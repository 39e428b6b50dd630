package hubdemo_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/hub"
)

// onlineJS lists the users the page shows online on a topic.
const onlineJS = `[...document.querySelectorAll('#online .online-topic[data-topic=%q] li')].map((li) => li.dataset.user).sort().join(",")`

// waitOnline waits until p shows exactly users (sorted, comma-separated)
// online on topic.
func waitOnline(t *testing.T, p *browsertest.Page, topic, users string, within time.Duration) {
	t.Helper()
	js := fmt.Sprintf(onlineJS, topic)
	p.WaitFor(fmt.Sprintf("%s online: %q", topic, users), fmt.Sprintf(`%s === %q`, js, users), within)
}

// TestDemoPage_presence opens the demo page in two browsers, each with its
// own user's token: each sees the other join, with the name from the
// token's profile claim, and leave once its page is gone and the grace
// period has passed.
func TestDemoPage_presence(t *testing.T) {
	secret := strings.Repeat("p", hub.MinJWTSecretLength)
	_, srv := startHub(t, hub.Config{
		Config:            ssevents.Config{Presence: []string{"comments"}, PresenceGrace: 300 * time.Millisecond},
		JWTSecret:         secret,
		PublicTopics:      []string{"demo"},
		PresenceInfoClaim: "profile",
	})
	tokenOf := func(user, name string) string {
		return hs256(t, secret, map[string]any{"sub": user, "exp": time.Now().Add(time.Hour).Unix(),
			"profile": map[string]string{"name": name}, "sse": map[string]any{"subscribe": []string{"comments"}}})
	}
	ann := browsertest.New(t).NewPage(t, srv.URL+"/?topic=comments,demo")
	ann.SetValue("#token", tokenOf("ann", "Ann Lee"))
	ann.Click("#connect")
	waitOnline(t, ann, "comments", "ann", 5*time.Second)

	bobBrowser := browsertest.New(t)
	bob := bobBrowser.NewPage(t, srv.URL+"/?topic=comments,demo")
	bob.SetValue("#token", tokenOf("bob", "Bob Ray"))
	bob.Click("#connect")
	waitOnline(t, bob, "comments", "ann,bob", 5*time.Second)
	waitOnline(t, ann, "comments", "ann,bob", 5*time.Second)
	if got := browsertest.Eval[string](ann, `document.querySelector('#online li[data-user="bob"]').textContent`); got != "Bob Ray (bob)" {
		t.Errorf("ann's page shows bob as %q, want his name from the token", got)
	}
	if got := browsertest.Eval[string](ann, `document.querySelector('#online .online-topic b').textContent`); got != "comments: 2 users online" {
		t.Errorf("ann's page heading %q", got)
	}
	// The page's log shows the join too.
	waitRow(ann, "join", arrival)

	// bob closes his page: he leaves ann's list once the grace is over.
	if err := chromedp.Cancel(bob.Context()); err != nil {
		t.Fatal(err)
	}
	waitOnline(t, ann, "comments", "ann", 5*time.Second)
	waitRow(ann, "leave", arrival)
}

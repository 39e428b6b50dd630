package hubdemo_test

import (
	"fmt"
	"testing"

	"github.com/ssevents/ssevents/examples/internal/browsertest"
	"github.com/ssevents/ssevents/hub"
)

// The page's parser keeps the hub's topic line, for one event only.
func TestDemoPage_parserTopic(t *testing.T) {
	_, srv := startHub(t, hub.Config{})
	p := browsertest.Shared(t).NewPage(t, srv.URL+"/")
	got := browsertest.Eval[[]string](p, `(() => {
		const out = [];
		const p = new SSEParser((ev) => out.push(ev.type + "/" + ev.topic), () => {});
		p.push("id: 1\nevent: a\ntopic: comments\ndata: {}\n\nevent: b\ndata: {}\n\ntopic: lost\n\ndata: x\ntopic: demo\n\n");
		return out;
	})()`)
	if want := []string{"a/comments", "b/", "message/demo"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parsed %q, want %q", got, want)
	}
}

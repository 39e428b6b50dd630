// Command since shows a page that subscribes from where it was rendered: it
// loads a list from a REST route wrapped in ssevents' WithPosition, which
// answers the stream position of the list's topic in the SSE-Position
// header, taken before the list was read; the page then opens its stream
// with ?lastEventId=<that position>, so that an item added between the
// list's answer and the stream's start still shows, and none shows twice.
//
//	go run ./since --addr :8000
//
// then open http://localhost:8000/ in two windows and add items. SSE_*
// environment variables configure ssevents.
package main

import (
	"net/http"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

func main() {
	serve.Main("since", func(sse ssevents.Config) (http.Handler, func() error, error) {
		return newServer(sse, nil)
	})
}

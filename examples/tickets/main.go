// Command tickets is a small support desk: status changes are published
// by the ssevents publish middleware on the topic "ticket:<id>", and each
// user may follow only the tickets they can see (Config.Authorize, asked
// once per subscription).
//
//	go run ./tickets
//
// then open http://localhost:8000/?user=alice in one window and
// http://localhost:8000/?user=sam (support) in another, and change a
// status. SSE_* environment variables configure ssevents.
package main

import (
	"net/http"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

func main() {
	serve.Main("tickets", func(sse ssevents.Config) (http.Handler, func() error, error) {
		return newServer(Config{SSE: sse})
	})
}

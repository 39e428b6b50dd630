// Command crm-comments is a collaborative comment thread: a REST API for
// comments, and a page where a comment posted in one window appears in
// every other window, through Server-Sent Events (notify, then fetch).
//
//	go run ./crm-comments --addr :8000
//
// then open http://localhost:8000/?thread=general in two windows.
// SSE_* environment variables configure ssevents (SSE_REDIS_URL to fan out
// through Redis between several instances).
package main

import (
	"net/http"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

func main() {
	serve.Main("crm-comments", func(sse ssevents.Config) (http.Handler, func() error, error) {
		return newServer(Config{SSE: sse})
	})
}

// Command frameworks serves one ssevents App through chi, gin or echo: the
// App is an http.Handler, so each router mounts it as it mounts any
// handler, and the same chat page works on all three.
//
//	go run ./frameworks --framework gin --addr :8000
//
// then open http://localhost:8000/?room=lobby in two windows. SSE_*
// environment variables configure ssevents.
package main

import (
	"flag"
	"fmt"
	"net/http"

	"github.com/ssevents/ssevents"
	_ "github.com/ssevents/ssevents/broker/redis" // SSE_REDIS_URL=redis://... fans out between instances
	"github.com/ssevents/ssevents/examples/internal/serve"
)

// routers maps the --framework names to the functions that mount the App.
var routers = map[string]func(*ssevents.App) http.Handler{
	"chi":  chiRouter,
	"gin":  ginRouter,
	"echo": echoRouter,
}

func main() {
	framework := flag.String("framework", "chi", "router to mount ssevents in: chi, gin or echo")
	serve.Main("frameworks", func(sse ssevents.Config) (http.Handler, func() error, error) {
		return newServer(*framework, sse)
	})
}

// newServer returns the App mounted in the named router, and the App's
// Close.
func newServer(framework string, cfg ssevents.Config) (http.Handler, func() error, error) {
	mount, ok := routers[framework]
	if !ok {
		return nil, nil, fmt.Errorf("unknown framework %q: want chi, gin or echo", framework)
	}
	app, err := ssevents.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	return mount(app), app.Close, nil
}

package main

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/ssevents/ssevents"
)

// chiRouter mounts the App in chi. chi routes are net/http handlers and
// chi sets the request's path values, so the publish middleware fills
// "room:{room}" from chi's {room} directly.
func chiRouter(app *ssevents.App) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	for _, p := range appPaths {
		r.Handle(p, app)
	}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { writePage(w, "chi") })
	r.With(app.Middleware("room:{room}", eventMessage)).Post("/rooms/{room}/messages", postMessage)
	return r
}

func writePage(w http.ResponseWriter, framework string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Framework", framework)
	_, _ = w.Write(indexHTML)
}

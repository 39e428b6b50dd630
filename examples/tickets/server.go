package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

//go:embed index.html
var indexHTML []byte

// eventStatusChanged is the event the publish middleware sends when a
// ticket's status changes, on the topic "ticket:<id>".
const eventStatusChanged = "ticket_status_changed"

// userCookie holds the demo identity.
const userCookie = "user"

// Config configures the example server. Zero fields take defaults.
type Config struct {
	// SSE configures the ssevents App. Its Authorize is set by newServer.
	SSE ssevents.Config
	// Store holds users and tickets; nil means NewStore().
	Store *Store
}

// newServer returns the example's handler and the function that ends its
// streams and closes its broker.
func newServer(cfg Config) (h http.Handler, cleanup func() error, err error) {
	if cfg.Store == nil {
		cfg.Store = NewStore()
	}
	s := &server{store: cfg.Store}
	cfg.SSE.Authorize = s.authorize
	app, err := ssevents.New(cfg.SSE)
	if err != nil {
		return nil, nil, err
	}
	s.routes(app)
	return app, app.Close, nil
}

type server struct {
	store *Store
}

func (s *server) routes(app *ssevents.App) {
	app.HandleFunc("GET /{$}", s.handleIndex)
	app.HandleFunc("GET /users", s.handleUsers)
	app.HandleFunc("POST /login", s.handleLogin)
	app.HandleFunc("POST /logout", s.handleLogout)
	app.HandleFunc("GET /me", s.handleMe)
	app.HandleFunc("GET /tickets", s.handleTickets)
	app.HandleFunc("GET /tickets/{id}", s.handleTicket)
	// fastapi-sse-events' @publish_event(topic="ticket:{id}"): a 2xx JSON answer of
	// the handler is published as ticket_status_changed on ticket:<id>,
	// the {id} filled from the request's path.
	app.Handle("POST /tickets/{id}/status",
		app.PublishEvent("ticket:{id}", eventStatusChanged, http.HandlerFunc(s.handleSetStatus)))
}

// currentUser returns the request's user: the "user" cookie, else the
// ?user= parameter (handy for curl and for opening two identities in two
// tabs). A real application reads its session or a JWT here.
func (s *server) currentUser(r *http.Request) (User, bool) {
	name := r.URL.Query().Get("user")
	if c, err := r.Cookie(userCookie); err == nil && name == "" {
		name = c.Value
	}
	return s.store.User(name)
}

// authorize is Config.Authorize: it is asked once per subscription, with
// every topic, before the stream starts, so the user is looked up once. A
// customer may follow their own tickets and their own user topic; support
// may follow every ticket.
func (s *server) authorize(r *http.Request, topics []string) error {
	u, ok := s.currentUser(r)
	if !ok {
		return fmt.Errorf("%w: log in first", sse.ErrUnauthorized) // 401, not 403
	}
	for _, topic := range topics {
		if !s.mayFollow(u, topic) {
			return ssevents.Forbidden(topic) // 403 naming the topic
		}
	}
	return nil
}

// mayFollow reports whether u may follow topic.
func (s *server) mayFollow(u User, topic string) bool {
	kind, id, _ := strings.Cut(topic, ":")
	switch kind {
	case "ticket":
		tid, err := parseID(id)
		if err != nil {
			return false
		}
		t, err := s.store.Ticket(tid)
		return err == nil && CanSee(u, t)
	case "user":
		return id == u.Name
	}
	return false
}

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(indexHTML)
}

func (s *server) handleUsers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.store.Users())
}

func (s *server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON: {"user": "alice"}`)
		return
	}
	u, ok := s.store.User(in.User)
	if !ok {
		writeError(w, http.StatusUnauthorized, "no such user; try alice, bob or sam")
		return
	}
	// Secure when served over TLS; the example also runs on plain
	// http://localhost, where a Secure cookie would not come back.
	http.SetCookie(w, &http.Cookie{Name: userCookie, Value: u.Name, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, u)
}

func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: userCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) handleMe(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (s *server) handleTickets(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	writeJSON(w, http.StatusOK, s.store.TicketsFor(u))
}

// visibleTicket returns the ticket of the request's path if the user may
// see it, and answers the request with the error otherwise.
func (s *server) visibleTicket(w http.ResponseWriter, r *http.Request) (User, Ticket, bool) {
	u, ok := s.currentUser(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return u, Ticket{}, false
	}
	id, err := parseID(r.PathValue("id"))
	var t Ticket
	if err == nil {
		t, err = s.store.Ticket(id)
	}
	if err != nil || !CanSee(u, t) {
		// The same answer for "missing" and "not yours": ids leak nothing.
		writeError(w, http.StatusNotFound, "no such ticket")
		return u, t, false
	}
	return u, t, true
}

func (s *server) handleTicket(w http.ResponseWriter, r *http.Request) {
	if _, t, ok := s.visibleTicket(w, r); ok {
		writeJSON(w, http.StatusOK, t)
	}
}

// statusChange is the answer of POST /tickets/{id}/status, and so the data
// of the ticket_status_changed event.
type statusChange struct {
	ID        int64     `json:"id"`
	Status    string    `json:"status"`
	Previous  string    `json:"previous"`
	ChangedBy string    `json:"changed_by"`
	ChangedAt time.Time `json:"changed_at"`
}

func (s *server) handleSetStatus(w http.ResponseWriter, r *http.Request) {
	u, t, ok := s.visibleTicket(w, r)
	if !ok {
		return
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, `body must be JSON: {"status": "in_progress"}`)
		return
	}
	if u.Role != "support" && in.Status != "closed" && in.Status != "open" {
		// Customers may close or reopen their ticket; the rest is support's.
		writeError(w, http.StatusForbidden, "customers may only set open or closed")
		return
	}
	updated, err := s.store.SetStatus(t.ID, in.Status)
	if errors.Is(err, errBadStatus) {
		writeError(w, http.StatusBadRequest, "status must be one of open, in_progress, waiting, resolved, closed")
		return
	} else if err != nil {
		writeError(w, http.StatusNotFound, "no such ticket")
		return
	}
	// The publish middleware around this handler publishes this body.
	writeJSON(w, http.StatusOK, statusChange{
		ID: updated.ID, Status: updated.Status, Previous: t.Status,
		ChangedBy: u.Name, ChangedAt: updated.UpdatedAt,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, sse.ErrorBody{Error: msg})
}

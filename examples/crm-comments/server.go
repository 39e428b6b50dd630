package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

//go:embed index.html
var indexHTML []byte

// Event names this example publishes. The page listens for each with
// addEventListener.
const (
	eventCreated = "comment_created"
	eventUpdated = "comment_updated"
	eventDeleted = "comment_deleted"
)

// Config configures the example server. Zero fields take defaults.
type Config struct {
	// SSE configures the ssevents App: broker (Broker or BrokerURL),
	// heartbeat, retry... Zero fields are ssevents' defaults.
	SSE ssevents.Config
	// Store holds the comments; nil means a new, empty one. Tests pass a
	// store that outlives a server restart.
	Store *Store
}

// newServer returns the example's handler (page, REST API, /events,
// health and metrics) and the function that ends its streams and closes
// its broker. Call cleanup before http.Server.Shutdown.
func newServer(cfg Config) (h http.Handler, cleanup func() error, err error) {
	app, err := ssevents.New(cfg.SSE)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Store == nil {
		cfg.Store = NewStore()
	}
	logger := cfg.SSE.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &server{comments: &comments{store: cfg.Store, pub: app.Publisher, logger: logger}}
	s.routes(app)
	return app, app.Close, nil
}

type server struct {
	comments *comments
}

// routes registers the page and the REST API on the app, next to the
// /events, /health and /metrics endpoints it already serves.
func (s *server) routes(app *ssevents.App) {
	app.HandleFunc("GET /{$}", s.handleIndex)
	app.HandleFunc("GET /threads/{thread}/comments", s.handleList)
	app.HandleFunc("POST /threads/{thread}/comments", s.handleCreate)
	app.HandleFunc("GET /comments/{id}", s.handleGet)
	app.HandleFunc("PUT /comments/{id}", s.handleUpdate)
	app.HandleFunc("DELETE /comments/{id}", s.handleDelete)
}

// comments stores comments and announces every change on the thread's
// topic. The events carry ids only (notify, then fetch): the page reads
// the comment itself through the REST API, which stays the source of
// truth.
type comments struct {
	store  *Store
	pub    *ssevents.Publisher
	logger *slog.Logger
}

// commentEvent is the data of every comment_* event.
type commentEvent struct {
	ID       int64  `json:"id"`
	ThreadID string `json:"thread_id"`
}

// threadTopic is the topic of a thread's events: "comment_thread:<id>".
func threadTopic(thread string) string { return ssevents.Topic("comment_thread", thread) }

func (c *comments) Create(ctx context.Context, thread, author, text string) Comment {
	cm := c.store.Create(thread, author, text)
	c.announce(ctx, eventCreated, cm)
	return cm
}

func (c *comments) Update(ctx context.Context, id int64, text string) (Comment, error) {
	cm, err := c.store.Update(id, text)
	if err == nil {
		c.announce(ctx, eventUpdated, cm)
	}
	return cm, err
}

func (c *comments) Delete(ctx context.Context, id int64) (Comment, error) {
	cm, err := c.store.Delete(id)
	if err == nil {
		c.announce(ctx, eventDeleted, cm)
	}
	return cm, err
}

// announce publishes the change. The change is already stored, so a
// failed publish is logged and the request still succeeds: pages catch up
// when they reconnect (Last-Event-ID, or a resync event and a refetch).
func (c *comments) announce(ctx context.Context, event string, cm Comment) {
	ctx = context.WithoutCancel(ctx) // a client that hangs up must not cancel the announcement
	if _, err := c.pub.Publish(ctx, threadTopic(cm.ThreadID), event, commentEvent{ID: cm.ID, ThreadID: cm.ThreadID}); err != nil {
		c.logger.WarnContext(ctx, "publish failed", "event", event, "comment", cm.ID, "error", err)
	}
}

func (s *server) handleIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(indexHTML)
}

// threadPattern restricts thread ids to characters that are safe in a
// topic name and a URL.
var threadPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (s *server) thread(w http.ResponseWriter, r *http.Request) (string, bool) {
	t := r.PathValue("thread")
	if !threadPattern.MatchString(t) {
		writeError(w, http.StatusBadRequest, "thread ids are 1 to 64 letters, digits, _ or -")
		return "", false
	}
	return t, true
}

func (s *server) handleList(w http.ResponseWriter, r *http.Request) {
	thread, ok := s.thread(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.comments.store.List(thread))
}

// commentInput is the body of POST and PUT requests.
type commentInput struct {
	Author string `json:"author"`
	Text   string `json:"text"`
}

// Limits on what a comment may hold.
const (
	maxAuthorChars = 50
	maxTextChars   = 2000
	maxBodyBytes   = 16 << 10 // room for maxTextChars of 4-byte characters, JSON-escaped
)

func readInput(w http.ResponseWriter, r *http.Request, needAuthor bool) (commentInput, bool) {
	var in commentInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON: {\"author\": \"...\", \"text\": \"...\"}")
		return in, false
	}
	in.Author, in.Text = strings.TrimSpace(in.Author), strings.TrimSpace(in.Text)
	switch {
	case needAuthor && (in.Author == "" || utf8.RuneCountInString(in.Author) > maxAuthorChars):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("author must be 1 to %d characters", maxAuthorChars))
		return in, false
	case in.Text == "" || utf8.RuneCountInString(in.Text) > maxTextChars:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("text must be 1 to %d characters", maxTextChars))
		return in, false
	}
	return in, true
}

func (s *server) handleCreate(w http.ResponseWriter, r *http.Request) {
	thread, ok := s.thread(w, r)
	if !ok {
		return
	}
	in, ok := readInput(w, r, true)
	if !ok {
		return
	}
	c := s.comments.Create(r.Context(), thread, in.Author, in.Text)
	w.Header().Set("Location", fmt.Sprintf("/comments/%d", c.ID))
	writeJSON(w, http.StatusCreated, c)
}

func (s *server) handleGet(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		var c Comment
		if c, err = s.comments.store.Get(id); err == nil {
			writeJSON(w, http.StatusOK, c)
			return
		}
	}
	writeStoreError(w, err)
}

func (s *server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		writeStoreError(w, err)
		return
	}
	in, ok := readInput(w, r, false)
	if !ok {
		return
	}
	c, err := s.comments.Update(r.Context(), id, in.Text)
	if err != nil {
		writeStoreError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *server) handleDelete(w http.ResponseWriter, r *http.Request) {
	id, err := parseID(r.PathValue("id"))
	if err == nil {
		_, err = s.comments.Delete(r.Context(), id)
	}
	if err != nil {
		writeStoreError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeStoreError(w http.ResponseWriter, err error) {
	if errors.Is(err, errNotFound) {
		writeError(w, http.StatusNotFound, "no such comment")
		return
	}
	writeError(w, http.StatusInternalServerError, "internal error")
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

package ssevents

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ssevents/ssevents/sse"
)

// PositionHeader is the response header WithPosition sets: the stream
// position of the answer's topics, taken before the handler read its data.
const PositionHeader = "SSE-Position"

// PositionResponse is the JSON answer of GET /position.
type PositionResponse struct {
	// Position is the stream position of the requested topics now: give
	// it as ?lastEventId= (or Last-Event-ID) to receive exactly the events
	// published on them after it.
	Position string `json:"position"`
}

// Position returns the position of the stream of topics now (see
// sse.Positioner): an opaque, URL-safe string of at most 256 bytes that,
// given to the SSE endpoint as ?lastEventId= or Last-Event-ID, delivers
// exactly the events published on topics after Position returned, on any
// instance sharing the broker. Take it before reading the data a page is
// rendered from: the data, then the events after the position, are
// complete.
//
// It returns an error wrapping sse.ErrNoTopic or sse.ErrInvalidTopic for
// bad topics, sse.ErrNoPosition (501) when the broker cannot tell
// positions (it does not implement sse.Positioner; the embedded and the
// Redis brokers do), or the broker's error (sse.ErrUnavailable, ...).
func (a *App) Position(ctx context.Context, topics ...string) (string, error) {
	topics = sse.UniqueTopics(topics)
	if len(topics) == 0 {
		return "", fmt.Errorf("%w: a position needs at least one topic", sse.ErrNoTopic)
	}
	for _, t := range topics {
		if err := sse.ValidateTopic(t); err != nil {
			return "", err
		}
	}
	p, ok := a.broker.(sse.Positioner)
	if !ok {
		return "", fmt.Errorf("%w: use the embedded or the Redis broker", sse.ErrNoPosition)
	}
	return p.Position(ctx, topics)
}

// handlePosition serves GET /position?topic=a,b (or repeated topic=, as
// the SSE endpoint takes them): {"position": "..."}, to whoever may
// subscribe to the topics (Config.Authorize decides, as for a stream).
func (a *App) handlePosition(w http.ResponseWriter, r *http.Request) {
	topics, err := parseTopics(r, a.cfg.MaxTopicsPerConnection)
	if err == nil && len(topics) == 0 {
		err = fmt.Errorf("%w: ?topic= is required", sse.ErrNoTopic)
	}
	if err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	if _, err := a.events.authorize(w, r, topics); err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	pos, err := a.Position(r.Context(), topics...)
	if err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	WriteJSON(w, http.StatusOK, PositionResponse{Position: pos})
}

// WithPosition returns middleware that sets the PositionHeader
// (SSE-Position) of the answer to the stream position of its topics,
// taken before next runs, so before next reads the data it answers with:
// a page that renders that data and subscribes from the position (the
// browser client's since option, client.ResumeFrom in Go) misses no event
// and gets none twice. It also adds SSE-Position to
// Access-Control-Expose-Headers, so that a page of another origin that
// CORS allows can read it.
//
// topicTemplate is filled from the request's Go 1.22 path values as for
// PublishEvent: "ticket:{id}" on the pattern "GET /tickets/{id}" is the
// topic "ticket:42" for /tickets/42; several topics are separated by
// commas. Whoever may call the route learns only an opaque position, no
// event.
//
// When no position can be taken (a topic the template makes invalid, a
// broker that cannot tell positions or is down), the failure is logged and
// the answer goes out without the header: the page then subscribes from
// when it connects, as it would without this middleware.
func (a *App) WithPosition(topicTemplate string) func(http.Handler) http.Handler {
	templates := strings.Split(topicTemplate, ",")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			topics := make([]string, 0, len(templates))
			for _, t := range templates {
				topics = append(topics, fillTemplate(strings.TrimSpace(t), r))
			}
			pos, err := a.Position(r.Context(), topics...)
			if err != nil {
				a.cfg.Logger.WarnContext(r.Context(), "stream position not taken; answering without SSE-Position",
					"method", r.Method, "path", r.URL.Path, "topic", topicTemplate, "error", err)
			} else {
				h := w.Header()
				h.Set(PositionHeader, pos)
				if !slices.Contains(h.Values("Access-Control-Expose-Headers"), PositionHeader) {
					h.Add("Access-Control-Expose-Headers", PositionHeader)
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

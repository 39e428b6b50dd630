package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ssevents/ssevents"
	"github.com/ssevents/ssevents/sse"
)

// envelopeSlack is what a publish body may hold beyond the event data:
// the topics (up to MaxTopicsPerConnection of MaxTopicLength bytes each
// would be 6.4 KB at the default limit), the event name and the JSON
// punctuation. Data larger than MaxMessageSize is refused either way;
// the slack only lets such a body be read far enough to say so clearly.
const envelopeSlack = 16 << 10

// publishReadTimeout bounds reading one publish body, so a client that
// trickles a body cannot hold a connection.
const publishReadTimeout = 30 * time.Second

// handlePublish publishes one event: 200 {"id"}, or a JSON error: 400 bad
// request, 401/403 credentials, 413 too large, 503 broker down.
func (h *Hub) handlePublish(w http.ResponseWriter, r *http.Request) {
	if err := h.publish(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Hub) publish(w http.ResponseWriter, r *http.Request) error {
	// Checked before the body is read: a caller without credentials
	// learns nothing about topics and costs no parsing.
	claims, err := h.authenticatePublisher(r)
	if err != nil {
		return err
	}
	if err := h.limits.allowPublish(w, r, claims); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	req, err := h.readPublishRequest(w, r)
	if err != nil {
		return err
	}
	topics, err := requestTopics(req, h.app.Config().MaxTopicsPerConnection)
	if err != nil {
		return err
	}
	if claims != nil {
		for _, t := range topics {
			if !matchAny(claims.SSE.Publish, t) {
				return fmt.Errorf("%w: the token may not publish to topic %q", sse.ErrForbidden, t)
			}
		}
	}
	id, err := h.app.PublishMessage(r.Context(), sse.Message{Topics: topics, Event: req.Event, Data: req.Data, IdempotencyKey: key})
	if err != nil {
		if errors.Is(err, sse.ErrInvalidData) {
			return fmt.Errorf("%w: data is not valid JSON", sse.ErrInvalidRequest)
		}
		return err
	}
	ssevents.WriteJSON(w, http.StatusOK, sse.PublishResponse{ID: id})
	return nil
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has
// none, or an error for an invalid or repeated one.
func idempotencyKey(r *http.Request) (string, error) {
	vals := r.Header.Values(sse.IdempotencyKeyHeader)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		if err := sse.ValidateIdempotencyKey(vals[0]); err != nil {
			return "", fmt.Errorf("%w (header %s)", err, sse.IdempotencyKeyHeader)
		}
		return vals[0], nil
	}
	return "", fmt.Errorf("%w: %d %s headers, give one", sse.ErrInvalidIdempotencyKey, len(vals), sse.IdempotencyKeyHeader)
}

// readPublishRequest decodes and checks the body of a publish.
func (h *Hub) readPublishRequest(w http.ResponseWriter, r *http.Request) (sse.PublishRequest, error) {
	var req sse.PublishRequest
	// The body is read as JSON whatever its Content-Type says (curl -d
	// sends a form type). Cross-site posts are stopped elsewhere: a JWT
	// comes only in the Authorization header, which a page cannot set
	// without a preflight, and loopback-only mode refuses foreign Origins.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(publishReadTimeout)) // unsupported by some writers; then no deadline
	maxData := h.app.MaxMessageSize()
	body := http.MaxBytesReader(w, r.Body, int64(maxData+envelopeSlack))
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value in the body")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return req, fmt.Errorf("%w: the body is over %d bytes; event data may be at most %d bytes", sse.ErrMessageTooLarge, tooLarge.Limit, maxData)
	case errors.Is(err, io.EOF):
		return req, fmt.Errorf("%w: empty body; send {\"topic\": \"name\", \"event\": \"name\", \"data\": ...}", sse.ErrInvalidRequest)
	case err != nil:
		return req, fmt.Errorf("%w: body is not a valid publish request: %s", sse.ErrInvalidRequest, jsonErrorText(err))
	}
	if len(req.Data) == 0 {
		req.Data = json.RawMessage("null")
	} else {
		var buf bytes.Buffer
		if err := json.Compact(&buf, req.Data); err != nil {
			return req, fmt.Errorf("%w: data is not valid JSON", sse.ErrInvalidRequest)
		}
		req.Data = buf.Bytes()
	}
	if req.Event == "" {
		return req, fmt.Errorf("%w: the event field is missing", sse.ErrInvalidEvent)
	}
	return req, nil
}

// requestTopics returns the request's topics, checked and without repeats.
func requestTopics(req sse.PublishRequest, max int) ([]string, error) {
	var topics []string
	switch {
	case req.Topic != "" && len(req.Topics) > 0:
		return nil, fmt.Errorf("%w: give either topic or topics, not both", sse.ErrInvalidRequest)
	case req.Topic != "":
		topics = []string{req.Topic}
	case len(req.Topics) > 0:
		seen := make(map[string]bool, len(req.Topics))
		for _, t := range req.Topics {
			if !seen[t] {
				seen[t] = true
				topics = append(topics, t)
			}
		}
	default:
		return nil, fmt.Errorf("%w: the topic (or topics) field is missing", sse.ErrNoTopic)
	}
	if max > 0 && len(topics) > max {
		return nil, fmt.Errorf("%w: %d topics, the limit is %d per publish", sse.ErrTooManyTopics, len(topics), max)
	}
	for _, t := range topics {
		if err := sse.ValidateTopic(t); err != nil {
			return nil, err
		}
	}
	return topics, nil
}

// jsonErrorText describes a decoding error without echoing the body.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be a JSON %s", typ.Field, expectedType(typ.Field))
		}
		return "the body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	}
	return err.Error() // e.g. `json: unknown field "topc"`
}

func expectedType(field string) string {
	if field == "topics" {
		return "array of strings"
	}
	return "string"
}

// writeError answers err as JSON with the status of the core's error table,
// adding the Bearer challenge of RFC 6750 to a 401.
func (h *Hub) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if sse.HTTPStatus(err) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssevents"`)
	}
	ssevents.WriteError(w, r, h.logger, err)
}

package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

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
// trickles a body cannot hold a connection: past it the publish is
// answered 408.
const publishReadTimeout = 30 * time.Second

// handlePublish publishes one event: 200 {"id"}, or a JSON error: 400 bad
// request, 401/403 credentials, 408 body too slow, 409 a request with its
// Idempotency-Key still in flight, 413 too large, 415 content type, 422
// its Idempotency-Key used for another request, 503 broker down (not
// published), 504 outcome unknown (publish again with the same key).
func (h *Hub) handlePublish(w http.ResponseWriter, r *http.Request) {
	if err := h.publish(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

func (h *Hub) publish(w http.ResponseWriter, r *http.Request) error {
	// Checked before the body is read: a caller without credentials
	// learns nothing about topics and costs no parsing.
	claims, err := h.authenticatePublisher(r)
	if errors.Is(err, errKeysNotLoaded) {
		w.Header().Set("Retry-After", keysRetryAfter)
	}
	if err != nil {
		return err
	}
	if err := h.limits.allowPublish(w, r, claims); err != nil {
		return err
	}
	form, err := publishContentType(r)
	if err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	req, err := h.readPublishRequest(w, r, form)
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

// readPublishRequest reads, decodes and checks the body of a publish: a
// UTF-8 JSON document, under the size bound and the read deadline.
func (h *Hub) readPublishRequest(w http.ResponseWriter, r *http.Request, form bool) (sse.PublishRequest, error) {
	var req sse.PublishRequest
	body, err := h.readBody(w, r)
	if err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value in the body")
	}
	hint := ""
	if form {
		hint = " (a body sent as application/x-www-form-urlencoded, as curl -d does, is read as JSON too)"
	}
	switch {
	case errors.Is(err, io.EOF):
		return req, fmt.Errorf("%w: empty body; send {\"topic\": \"name\", \"event\": \"name\", \"data\": ...}", sse.ErrInvalidRequest)
	case err != nil:
		return req, fmt.Errorf("%w: body is not a valid publish request: %s%s", sse.ErrInvalidRequest, jsonErrorText(err), hint)
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

// readBody reads a publish body whole: at most MaxMessageSize plus
// envelopeSlack bytes (413 past them), arriving within the read timeout
// (408 after it), and valid UTF-8 (400 otherwise). The UTF-8 check is made
// on the raw bytes because encoding/json would silently replace an invalid
// sequence in a string with U+FFFD, and keep it as is in raw data.
func (h *Hub) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	timeout := h.publishReadTimeout
	if timeout <= 0 {
		timeout = publishReadTimeout
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout)) // unsupported by some writers; then no deadline
	maxData := h.app.MaxMessageSize()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxData+envelopeSlack)))
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return nil, fmt.Errorf("%w: the body is over %d bytes; event data may be at most %d bytes", sse.ErrMessageTooLarge, tooLarge.Limit, maxData)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return nil, fmt.Errorf("%w: the body did not arrive within %v; send it at once", sse.ErrRequestTimeout, timeout)
	case err != nil:
		return nil, fmt.Errorf("%w: the body could not be read", sse.ErrInvalidRequest)
	}
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: the body is not valid UTF-8 (at byte %d); JSON must be UTF-8", sse.ErrInvalidRequest, invalidUTF8At(body))
	}
	return body, nil
}

// invalidUTF8At returns the offset of the first byte of b that does not
// begin a valid UTF-8 sequence, or len(b).
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// publishContentType checks a publish's Content-Type: application/json, or
// application/x-www-form-urlencoded (which curl -d sends) for a body that
// is JSON all the same (form reports it); a charset parameter, when given,
// must be UTF-8. Anything else, or none, is 415: a body without a type, or
// as text/plain, is what a page of another site can post without a CORS
// preflight.
func publishContentType(r *http.Request) (form bool, err error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false, fmt.Errorf("%w: no Content-Type; send Content-Type: application/json", sse.ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false, fmt.Errorf("%w: Content-Type %.100q is not a media type; send application/json", sse.ErrUnsupportedMediaType, ct)
	}
	if mt != "application/json" && mt != "application/x-www-form-urlencoded" {
		return false, fmt.Errorf("%w: Content-Type %.100s; send application/json", sse.ErrUnsupportedMediaType, mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return false, fmt.Errorf("%w: charset %.40q; the body must be UTF-8", sse.ErrUnsupportedMediaType, cs)
	}
	return mt == "application/x-www-form-urlencoded", nil
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

package ssevents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// middlewarePublishTimeout bounds the publish the middleware makes after a
// handler answered; the request's own cancellation does not cut it short.
const middlewarePublishTimeout = 5 * time.Second

// PublishEvent wraps next (fastapi-sse-events' @publish_event): when next answers 2xx
// with a JSON body, that body is published as event on the topic.
//
// topic is a template filled from the request's Go 1.22 path values:
// "ticket:{id}" on the pattern "POST /tickets/{id}/status" publishes to
// "ticket:42" for /tickets/42/status. Several topics are separated by
// commas ("ticket:{id},tickets").
//
// The response is passed through unchanged whatever happens to the
// publish: a failure (invalid topic, body too large or not JSON, broker
// down) is logged and counted, never shown to the client. Inside next,
// PublisherFrom(r.Context()) returns p for hand-made events.
func (p *Publisher) PublishEvent(topic, event string, next http.Handler) http.Handler {
	return p.publishEvent(topic, event, next)
}

// Middleware returns PublishEvent as a func(http.Handler) http.Handler, the
// shape router middleware chains take.
func (p *Publisher) Middleware(topic, event string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return p.PublishEvent(topic, event, next) }
}

func (p *Publisher) publishEvent(topic, event string, next http.Handler) http.Handler {
	templates := strings.Split(topic, ",")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &captureWriter{ResponseWriter: w, limit: p.maxSize}
		next.ServeHTTP(cw, r.WithContext(WithPublisher(r.Context(), p)))
		if cw.status == 0 {
			cw.status = http.StatusOK
		}
		if cw.status < 200 || cw.status > 299 {
			return
		}
		fail := func(err error, counted bool) {
			if !counted {
				p.metrics.observePublishError()
			}
			p.logger.WarnContext(r.Context(), "publish after response failed",
				"method", r.Method, "path", r.URL.Path, "topic", topic, "event", event, "error", err)
		}
		if cw.over {
			fail(fmt.Errorf("%w: response body is over %d bytes", sse.ErrMessageTooLarge, p.maxSize), false)
			return
		}
		body := bytes.TrimSpace(cw.body.Bytes())
		if len(body) == 0 || !json.Valid(body) {
			fail(fmt.Errorf("%w: response body is not JSON", sse.ErrInvalidData), false)
			return
		}
		topics := make([]string, 0, len(templates))
		for _, t := range templates {
			topics = append(topics, fillTemplate(strings.TrimSpace(t), r))
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), middlewarePublishTimeout)
		defer cancel()
		if _, err := p.PublishTopics(ctx, topics, event, json.RawMessage(body)); err != nil {
			fail(err, true) // PublishTopics counted it
		}
	})
}

// fillTemplate replaces each {name} in t by r.PathValue(name).
func fillTemplate(t string, r *http.Request) string {
	if !strings.Contains(t, "{") {
		return t
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(t[:i])
		b.WriteString(r.PathValue(t[i+1 : i+j]))
		t = t[i+j+1:]
	}
	b.WriteString(t)
	return b.String()
}

// captureWriter passes a response through and keeps a copy of its body, up
// to limit bytes.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	limit  int
	over   bool
}

func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if !c.over {
		if c.body.Len()+len(b) > c.limit {
			c.over = true
			c.body = bytes.Buffer{}
		} else {
			c.body.Write(b)
		}
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

package ssevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Publisher validates events and publishes them through a Broker, counting
// them in Metrics. App embeds one, so app.Publish works; handlers reach it
// with PublisherFrom(r.Context()). Safe for concurrent use.
type Publisher struct {
	broker  sse.Broker
	maxSize int
	metrics *Metrics
	logger  *slog.Logger
	gate    publishGate
}

// NewPublisher returns a publisher for b that refuses data over maxSize
// bytes (DefaultMaxMessageSize when 0). m may be nil.
func NewPublisher(b sse.Broker, maxSize int, m *Metrics) *Publisher {
	if maxSize == 0 {
		maxSize = DefaultMaxMessageSize
	}
	if m == nil {
		m = NewMetrics()
	}
	return &Publisher{broker: b, maxSize: maxSize, metrics: m, logger: slog.Default()}
}

// Publish sends event with data to the subscribers of topic and returns the
// event's id. data is marshalled to JSON, except json.RawMessage, which is
// sent as it is (it must be valid JSON). Errors: ErrInvalidTopic,
// ErrInvalidEvent, ErrInvalidData, ErrMessageTooLarge, ErrBrokerClosed,
// ErrUnavailable (wrapped; check with errors.Is; not published) and
// ErrOutcomeUnknown (wrapped: maybe published; publish again with the same
// idempotency key to settle it).
func (p *Publisher) Publish(ctx context.Context, topic, event string, data any) (string, error) {
	return p.PublishTopics(ctx, []string{topic}, event, data)
}

// PublishTopics sends one event to several topics. A subscriber of more
// than one of them receives it once.
func (p *Publisher) PublishTopics(ctx context.Context, topics []string, event string, data any) (string, error) {
	raw, err := marshalData(data)
	if err != nil {
		p.metrics.observePublishError()
		return "", err
	}
	return p.PublishMessage(ctx, sse.Message{Topics: topics, Event: event, Data: raw})
}

// PublishMessage validates msg and publishes it. After Stop it returns
// ErrShuttingDown.
func (p *Publisher) PublishMessage(ctx context.Context, msg sse.Message) (string, error) {
	if err := msg.Validate(p.maxSize); err != nil {
		p.metrics.observePublishError()
		return "", err
	}
	if !p.gate.enter() {
		p.metrics.observePublishError()
		return "", ErrShuttingDown
	}
	defer p.gate.leave()
	start := time.Now()
	id, err := p.broker.Publish(ctx, msg)
	p.metrics.observePublish(time.Since(start), err)
	return id, err
}

// Stop refuses every later publish with ErrShuttingDown (503 over HTTP)
// and waits until the publishes in flight have returned, or ctx is done.
// App.Close calls it first, so that no publish is acknowledged after the
// streams that should receive it have ended.
func (p *Publisher) Stop(ctx context.Context) error { return p.gate.close(ctx) }

// Broker returns the broker the publisher sends through.
func (p *Publisher) Broker() sse.Broker { return p.broker }

// MaxMessageSize returns the largest data the publisher accepts, in bytes.
func (p *Publisher) MaxMessageSize() int { return p.maxSize }

func marshalData(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case json.RawMessage:
		return d, nil
	case nil:
		return json.RawMessage("null"), nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sse.ErrInvalidData, err)
	}
	return raw, nil
}

type publisherKey struct{}

// WithPublisher returns a context carrying p, for PublisherFrom.
func WithPublisher(ctx context.Context, p *Publisher) context.Context {
	return context.WithValue(ctx, publisherKey{}, p)
}

// PublisherFrom returns the publisher an App put in a request's context, so
// a handler can publish hand-made events.
func PublisherFrom(ctx context.Context) (*Publisher, bool) {
	p, ok := ctx.Value(publisherKey{}).(*Publisher)
	return p, ok
}

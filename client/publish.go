package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents"
)

// maxErrorBody bounds how much of an error answer is read: a JSON error
// message is a line; more is not worth holding.
const maxErrorBody = 16 << 10

// Publish publishes event with data on topic through the hub's publish API
// and returns the event's id. data is marshalled to JSON, except a
// json.RawMessage, which is sent as it is. An error answer is a
// *StatusError carrying the HTTP status and the server's message.
func (c *Client) Publish(ctx context.Context, topic, event string, data any) (string, error) {
	return c.PublishTopics(ctx, []string{topic}, event, data)
}

// PublishTopics publishes one event on several topics; a subscriber of more
// than one of them receives it once.
func (c *Client) PublishTopics(ctx context.Context, topics []string, event string, data any) (string, error) {
	if len(topics) == 0 {
		return "", ErrNoTopic
	}
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return "", fmt.Errorf("%w: %w", ssevents.ErrInvalidData, err)
		}
	}
	if !json.Valid(raw) {
		return "", ssevents.ErrInvalidData
	}
	body := ssevents.PublishRequest{Event: event, Data: raw}
	if len(topics) == 1 {
		body.Topic = topics[0]
	} else {
		body.Topics = topics
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ssevents.ErrInvalidData, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.publishURL, bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("ssevents: publish: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if err := c.setHeaders(req); err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("ssevents: publish: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", readStatusError(resp)
	}
	var out ssevents.PublishResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&out); err != nil {
		return "", fmt.Errorf("ssevents: publish: reading the answer: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // let the connection be reused
	return out.ID, nil
}

// readStatusError turns an error answer into a *StatusError, taking the
// message from a JSON {"error": "..."} body or from the body's first line.
func readStatusError(resp *http.Response) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body ssevents.ErrorBody
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
		return e
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	e.Message = strings.TrimSpace(line)
	return e
}

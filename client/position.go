package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultPositionPath is the server's stream position endpoint.
const DefaultPositionPath = "/position"

// Position returns the stream position of topics now (GET
// /position?topic=): an opaque string that, given to Subscribe or Events
// with ResumeFrom, delivers exactly the events published on topics after
// it. Take it before reading the data the subscriber starts from. It needs
// the same credentials as subscribing to topics; a server whose broker
// cannot tell positions answers a *StatusError with status 501.
func (c *Client) Position(ctx context.Context, topics ...string) (string, error) {
	u := c.base.JoinPath(DefaultPositionPath)
	u.RawQuery = url.Values{"topic": {strings.Join(topics, ",")}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	if err := c.setHeaders(req); err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", readStatusError(resp)
	}
	var body struct {
		Position string `json:"position"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil || body.Position == "" {
		return "", fmt.Errorf("ssevents: reading the position of %q: not {\"position\": \"...\"}: %v", topics, err)
	}
	return body.Position, nil
}

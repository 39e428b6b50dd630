package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ssevents/ssevents/sse"
)

// DefaultPresencePath is the hub's presence endpoint.
const DefaultPresencePath = "/presence"

// Presence makes the subscription ask for presence events: first a
// KindPresence event per tracked topic (who is present), then KindJoin and
// KindLeave as members come and go; after a reconnection, a fresh
// KindPresence again (presence is not history: joins and leaves missed
// while away are not replayed).
func Presence() SubscribeOption {
	return func(s *subscription) { s.presence = true }
}

// Presence returns who is present on topic: the exact counts and up to
// sse.DefaultPresenceLimit members (GET /presence?topic=). It needs the
// same credentials as subscribing to topic. A topic the server does not
// track answers a *StatusError with status 404.
func (c *Client) Presence(ctx context.Context, topic string) (sse.PresenceSnapshot, error) {
	return c.PresenceLimit(ctx, topic, sse.DefaultPresenceLimit)
}

// PresenceLimit is Presence listing at most limit members (0: counts
// only; the server allows up to 10,000).
func (c *Client) PresenceLimit(ctx context.Context, topic string, limit int) (sse.PresenceSnapshot, error) {
	u := c.base.JoinPath(DefaultPresencePath)
	u.RawQuery = url.Values{"topic": {topic}, "limit": {strconv.Itoa(limit)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return sse.PresenceSnapshot{}, err
	}
	req.Header.Set("Accept", "application/json")
	if err := c.setHeaders(req); err != nil {
		return sse.PresenceSnapshot{}, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return sse.PresenceSnapshot{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return sse.PresenceSnapshot{}, readStatusError(resp)
	}
	var snap sse.PresenceSnapshot
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&snap); err != nil {
		return sse.PresenceSnapshot{}, fmt.Errorf("ssevents: reading the presence of %q: %w", topic, err)
	}
	return snap, nil
}

// presenceEvent decodes a presence, join or leave event in place.
func presenceEvent(out *Event) {
	switch out.Name {
	case sse.EventPresence:
		var snap sse.PresenceSnapshot
		if json.Unmarshal(out.Data, &snap) == nil {
			out.Kind, out.Presence, out.Topic = KindPresence, &snap, snap.Topic
		}
	default:
		var ch sse.PresenceEvent
		if json.Unmarshal(out.Data, &ch) == nil {
			out.Kind, out.Change, out.Topic = KindJoin, &ch, ch.Topic
			if out.Name == sse.EventLeave {
				out.Kind = KindLeave
			}
		}
	}
}

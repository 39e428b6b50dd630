package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// centrifugo is Centrifugo v6: its unidirectional SSE transport
// (/connection/uni_sse?cf_connect={"token":JWT}), a connection token
// whose sub is the user and which subscribes the stream to its channel
// server-side, and the server HTTP API (/api/presence_stats,
// /api/presence) with an API key.
//
// The channels' namespace has presence and join_leave on and
// force_push_join_leave off: every subscription is in the presence and
// emits its join and leave, and only a watcher's token asks to receive
// them (subs override force_push_join_leave), as only a stream with
// ?presence=true receives them from ssevents.
type centrifugo struct {
	base   string // http://127.0.0.1:PORT, for the streams and /api
	secret []byte
	apiKey string
	client *http.Client
}

func (c *centrifugo) streamRequest(user, topic string, watch bool) (string, http.Header, error) {
	now := time.Now()
	claims := map[string]any{"sub": user, "iat": now.Unix(), "exp": now.Add(tokenTTL).Unix()}
	if watch {
		claims["subs"] = map[string]any{topic: map[string]any{
			"override": map[string]any{"force_push_join_leave": map[string]bool{"value": true}}}}
	} else {
		claims["channels"] = []string{topic}
	}
	tok, err := signHS256(c.secret, claims)
	if err != nil {
		return "", nil, err
	}
	connect, err := json.Marshal(map[string]string{"token": tok})
	if err != nil {
		return "", nil, err
	}
	return "/connection/uni_sse?cf_connect=" + url.QueryEscape(string(connect)), nil, nil
}

// uniPush is a message of Centrifugo's unidirectional protocol: the
// connect reply first, then pushes of a channel (join, leave,
// publications), disconnects, and {} pings.
type uniPush struct {
	Connect *struct {
		Client string                     `json:"client"`
		Subs   map[string]json.RawMessage `json:"subs"`
	} `json:"connect"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Disconnect *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"disconnect"`
	Channel string    `json:"channel"`
	Join    *joinInfo `json:"join"`
	Leave   *joinInfo `json:"leave"`
}

type joinInfo struct {
	Info struct {
		User   string `json:"user"`
		Client string `json:"client"`
	} `json:"info"`
}

func (c *centrifugo) confirm(topic string) func(sseEvent) error {
	return func(ev sseEvent) error {
		var p uniPush
		if err := json.Unmarshal([]byte(ev.data), &p); err != nil {
			return fmt.Errorf("first message %.100q: %w", ev.data, err)
		}
		switch {
		case p.Error != nil:
			return fmt.Errorf("connect error %d %s", p.Error.Code, p.Error.Message)
		case p.Disconnect != nil:
			return fmt.Errorf("disconnect %d %s", p.Disconnect.Code, p.Disconnect.Reason)
		case p.Connect == nil:
			return fmt.Errorf("first message %.100q is no connect reply", ev.data)
		}
		if _, ok := p.Connect.Subs[topic]; !ok {
			return fmt.Errorf("connected without a subscription to %s", topic)
		}
		return nil
	}
}

func (c *centrifugo) change(ev sseEvent) (string, string, bool) {
	var p uniPush
	if json.Unmarshal([]byte(ev.data), &p) != nil {
		return "", "", false
	}
	switch {
	case p.Join != nil:
		return "join", p.Join.Info.User, true
	case p.Leave != nil:
		return "leave", p.Leave.Info.User, true
	}
	return "", "", false
}

// api calls the server API method with {"channel": topic} and decodes
// its result into res; it returns the answer's size.
func (c *centrifugo) api(ctx context.Context, method, topic string, res any) (int, error) {
	body, _ := json.Marshal(map[string]string{"channel": topic})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/"+method, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", c.apiKey)
	answer, err := do(c.client, req)
	if err != nil {
		return 0, err
	}
	var reply struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(answer, &reply); err != nil {
		return 0, err
	}
	if reply.Error != nil {
		return 0, fmt.Errorf("%s: error %d %s", method, reply.Error.Code, reply.Error.Message)
	}
	if reply.Result == nil {
		return 0, errors.New(method + ": no result")
	}
	return len(answer), json.Unmarshal(reply.Result, res)
}

func (c *centrifugo) counts(ctx context.Context, topic string) (int, int, error) {
	var st struct {
		NumClients int `json:"num_clients"`
		NumUsers   int `json:"num_users"`
	}
	_, err := c.api(ctx, "presence_stats", topic, &st)
	return st.NumUsers, st.NumClients, err
}

// members asks for presence, which has no limit: it returns every client
// of the channel, whatever limit is.
func (c *centrifugo) members(ctx context.Context, topic string, _ int) (int, int, error) {
	var res struct {
		Presence map[string]json.RawMessage `json:"presence"`
	}
	n, err := c.api(ctx, "presence", topic, &res)
	return len(res.Presence), n, err
}

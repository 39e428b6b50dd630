package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// target is the server under load: how a user's stream on a topic is
// asked for, what its events mean, and how its presence is read. Its
// methods are safe for concurrent use.
type target interface {
	// streamRequest returns the path (with its query) and the headers of
	// the request for user's stream on topic; watch asks for the topic's
	// join and leave events too.
	streamRequest(user, topic string, watch bool) (string, http.Header, error)
	// confirm checks a stream's first event when the server sends one to
	// say that the stream is subscribed (Centrifugo's connect reply); it
	// is nil when the 200 answer says so already (ssevents).
	confirm(topic string) func(ev sseEvent) error
	// change returns the presence change an event of a watcher carries:
	// kind "join" or "leave", and the user; ok is false for any other.
	change(ev sseEvent) (kind, user string, ok bool)
	// counts returns topic's users and connections as the server's
	// presence API says.
	counts(ctx context.Context, topic string) (users, conns int, err error)
	// members asks for a members snapshot of topic listing up to limit
	// members (where the API has a limit) and returns how many it listed
	// and the size of the answer in bytes.
	members(ctx context.Context, topic string, limit int) (listed, size int, err error)
}

// tokenTTL is the lifetime of every token: longer than any run.
const tokenTTL = 2 * time.Hour

// ssevents is our hub: GET /events?topic=T with a bearer token whose sub
// is the user and whose sse.subscribe claim grants the topic, and GET
// /presence?topic=T&limit=N.
type ssevents struct {
	base   string // http://127.0.0.1:PORT
	secret []byte
	client *http.Client
	bearer string // a token that may subscribe to every topic, for /presence
}

func newSSEvents(base string, secret []byte, client *http.Client) (*ssevents, error) {
	s := &ssevents{base: base, secret: secret, client: client}
	tok, err := s.token("presload", "*")
	s.bearer = tok
	return s, err
}

func (s *ssevents) token(user, topic string) (string, error) {
	now := time.Now()
	return signHS256(s.secret, map[string]any{
		"sub": user, "iat": now.Unix(), "exp": now.Add(tokenTTL).Unix(),
		"sse": map[string]any{"subscribe": []string{topic}},
	})
}

func (s *ssevents) streamRequest(user, topic string, watch bool) (string, http.Header, error) {
	tok, err := s.token(user, topic)
	if err != nil {
		return "", nil, err
	}
	path := "/events?topic=" + url.QueryEscape(topic)
	if watch {
		path += "&presence=true"
	}
	return path, http.Header{"Authorization": {"Bearer " + tok}}, nil
}

func (s *ssevents) confirm(string) func(sseEvent) error { return nil }

func (s *ssevents) change(ev sseEvent) (string, string, bool) {
	if ev.name != "join" && ev.name != "leave" {
		return "", "", false
	}
	var e struct {
		User string `json:"user"`
	}
	if json.Unmarshal([]byte(ev.data), &e) != nil {
		return "", "", false
	}
	return ev.name, e.User, true
}

// snapshot is the answer of GET /presence.
type snapshot struct {
	Topic       string `json:"topic"`
	Users       int    `json:"users"`
	Connections int    `json:"connections"`
	Members     []struct {
		User        string          `json:"user"`
		Connections int             `json:"connections"`
		Info        json.RawMessage `json:"info"`
	} `json:"members"`
}

func (s *ssevents) get(ctx context.Context, topic string, limit int) (snapshot, int, error) {
	var snap snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("%s/presence?topic=%s&limit=%d", s.base, url.QueryEscape(topic), limit), nil)
	if err != nil {
		return snap, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.bearer)
	body, err := do(s.client, req)
	if err != nil {
		return snap, 0, err
	}
	return snap, len(body), json.Unmarshal(body, &snap)
}

func (s *ssevents) counts(ctx context.Context, topic string) (int, int, error) {
	snap, _, err := s.get(ctx, topic, 0)
	return snap.Users, snap.Connections, err
}

func (s *ssevents) members(ctx context.Context, topic string, limit int) (int, int, error) {
	snap, n, err := s.get(ctx, topic, limit)
	return len(snap.Members), n, err
}

// maxAnswer bounds an API answer read into memory: Centrifugo's presence
// of 10,000 clients is about 1 MB.
const maxAnswer = 64 << 20

// do sends req and returns the body of its 200 answer.
func do(c *http.Client, req *http.Request) ([]byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{fmt.Sprintf("%s %s", req.Method, req.URL.Path), resp.StatusCode, string(bytes.TrimSpace(body[:min(len(body), 200)]))}
	}
	return body, nil
}

// statusError is an API answer other than 200.
type statusError struct {
	call string
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: %d %s", e.call, e.code, e.body) }

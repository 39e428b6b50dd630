package ssevents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// presenceKey is the context key of the request's *presenceIdent.
type presenceKey struct{}

// presenceIdent is where SetPresence records, for the Handler, whose
// stream is being authorized. Safe for concurrent use.
type presenceIdent struct {
	mu   sync.Mutex
	user string
	info json.RawMessage
	err  error // why the info was dropped
}

// SetPresence records, from an Authorizer, the user that the stream being
// authorized belongs to, and the info (any value that marshals to a JSON
// object of at most sse.MaxPresenceInfoBytes, such as {"name": "Ann"})
// shown to the others present on its tracked topics (Config.Presence). A
// stream nobody called it for is anonymous: counted, never listed. Info
// that is not such an object is dropped (the stream is still the user's)
// and logged when the stream starts. Called several times, the last call
// wins. It does nothing when r is not a request the Handler is
// authorizing, or presence is off.
func SetPresence(r *http.Request, user string, info any) {
	id, ok := r.Context().Value(presenceKey{}).(*presenceIdent)
	if !ok {
		return
	}
	var raw json.RawMessage
	var err error
	if info != nil {
		if raw, err = json.Marshal(info); err == nil && string(raw) == "null" {
			raw = nil
		}
		if err == nil {
			err = sse.ValidatePresenceInfo(raw)
		}
		if err != nil {
			raw = nil
		}
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	id.user, id.info, id.err = user, raw, err
}

// get returns what SetPresence recorded.
func (id *presenceIdent) get() (user string, info json.RawMessage, err error) {
	if id == nil {
		return "", nil, nil
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.user, id.info, id.err
}

// presence tracks the streams of the topics Config.Presence names in the
// broker's presence store, and serves the presence events of the streams
// that ask for them (?presence=true).
type presence struct {
	store    sse.PresenceStore
	patterns []string
	metrics  *Metrics
	logger   *slog.Logger

	mu       sync.Mutex
	watchers map[string]map[*presenceSub]struct{} // by topic
}

// openPresence opens b's presence store when cfg tracks topics; it returns
// nil when presence is off.
func openPresence(cfg Config, b sse.Broker, m *Metrics) (*presence, error) {
	if len(cfg.Presence) == 0 {
		return nil, nil
	}
	pb, ok := b.(sse.PresenceBroker)
	if !ok {
		return nil, fmt.Errorf("%w: SSE_PRESENCE (Presence) tracks topics, but the broker (%T) keeps no presence: use the embedded or the Redis broker, or unset it",
			sse.ErrInvalidConfig, b)
	}
	grace := cfg.PresenceGrace
	if grace < 0 {
		grace = time.Nanosecond // none: the store's zero is its default
	}
	store, err := pb.Presence(sse.PresenceOptions{
		Grace:   grace,
		TTL:     cfg.PresenceTTL,
		Outbox:  true,
		Logger:  cfg.Logger,
		OnError: func(error) { m.BrokerError() },
	})
	if err != nil {
		return nil, err
	}
	p := &presence{store: store, patterns: cfg.Presence, metrics: m, logger: cfg.Logger, watchers: map[string]map[*presenceSub]struct{}{}}
	store.Watch(p.dispatch)
	return p, nil
}

// tracks reports whether topic's subscribers are tracked.
func (p *presence) tracks(topic string) bool { return sse.MatchAnyTopic(p.patterns, topic) }

// trackedOf returns the topics of topics that are tracked.
func (p *presence) trackedOf(topics []string) []string {
	var out []string
	for _, t := range topics {
		if p.tracks(t) {
			out = append(out, t)
		}
	}
	return out
}

// presenceRef is a stream's place in the presence store: undone when the
// stream ends.
type presenceRef struct {
	p      *presence
	topics []string
	user   string
}

// release counts the stream's end.
func (ref *presenceRef) release() {
	for _, t := range ref.topics {
		ref.p.store.Remove(t, ref.user)
	}
	ref.p.metrics.presenceStreams.Add(-1)
}

// wantsPresence reads ?presence=: whether the stream asks for presence
// events.
func wantsPresence(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("presence")
	if v == "" {
		return false, nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: presence=%q; allowed: true or false", sse.ErrInvalidRequest, v)
	}
	return on, nil
}

// presenceSnapshotTimeout bounds the snapshots a stream that asks for
// presence starts with.
const presenceSnapshotTimeout = 5 * time.Second

// attach counts a new stream of topics in the store, by the user its
// authorizer named, and, when it asks for presence events, returns its
// subscription wrapped so that it gets them: first a snapshot of each
// tracked topic, then the joins and leaves. It returns sub as it is when
// none of topics is tracked.
func (p *presence) attach(r *http.Request, sub sse.Subscription, topics []string, id *presenceIdent) (sse.Subscription, *presenceRef, error) {
	want, err := wantsPresence(r)
	if err != nil {
		return nil, nil, err
	}
	tracked := p.trackedOf(topics)
	if len(tracked) == 0 {
		return sub, nil, nil
	}
	var ws *presenceSub
	if want {
		if ws = newPresenceSub(p, sub, tracked); ws != nil {
			p.watch(ws) // before the snapshot: no change falls between them
		}
	}
	user, info, infoErr := id.get()
	if infoErr != nil {
		p.logger.Warn("presence info dropped", "user", user, "reason", infoErr)
	}
	for _, t := range tracked {
		p.store.Add(t, user, info)
	}
	p.metrics.presenceStreams.Add(1)
	ref := &presenceRef{p: p, topics: tracked, user: user}
	if ws == nil {
		return sub, ref, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), presenceSnapshotTimeout)
	defer cancel()
	for _, t := range tracked {
		snap, err := p.store.Snapshot(ctx, t, sse.DefaultPresenceLimit)
		if err != nil {
			p.unwatch(ws)
			ref.release()
			return nil, nil, err
		}
		data, _ := json.Marshal(snap)
		ws.snapshots = append(ws.snapshots, presenceWireEvent(t, sse.EventPresence, data))
	}
	return ws, ref, nil
}

// Presence returns who is present on topic now: the exact counts and up
// to sse.DefaultPresenceLimit members. A topic that Config.Presence does
// not track, or presence off, is an error wrapping sse.ErrNotTracked.
func (a *App) Presence(ctx context.Context, topic string) (sse.PresenceSnapshot, error) {
	return a.presenceSnapshot(ctx, topic, sse.DefaultPresenceLimit)
}

// presenceSnapshot is Presence with a limit.
func (a *App) presenceSnapshot(ctx context.Context, topic string, limit int) (sse.PresenceSnapshot, error) {
	if err := sse.ValidateTopic(topic); err != nil {
		return sse.PresenceSnapshot{}, err
	}
	p := a.events.presence
	if p == nil {
		return sse.PresenceSnapshot{}, fmt.Errorf("%w: presence is off; set SSE_PRESENCE (Config.Presence) to topic patterns to track", sse.ErrNotTracked)
	}
	if !p.tracks(topic) {
		return sse.PresenceSnapshot{}, fmt.Errorf("%w: %q matches no pattern of SSE_PRESENCE (Config.Presence)", sse.ErrNotTracked, topic)
	}
	return p.store.Snapshot(ctx, topic, limit)
}

// maxPresenceLimit bounds ?limit= of GET /presence.
const maxPresenceLimit = 10_000

// handlePresence serves GET /presence?topic=T[&limit=N]: the topic's
// snapshot, to whoever may subscribe to T (Config.Authorize decides, as
// for a stream).
func (a *App) handlePresence(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	topic := q.Get("topic")
	if topic == "" {
		WriteError(w, r, a.cfg.Logger, fmt.Errorf("%w: ?topic= is required", sse.ErrNoTopic))
		return
	}
	if err := sse.ValidateTopic(topic); err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	limit := sse.DefaultPresenceLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPresenceLimit {
			WriteError(w, r, a.cfg.Logger, fmt.Errorf("%w: limit=%q; allowed: 0 to %d", sse.ErrInvalidRequest, v, maxPresenceLimit))
			return
		}
		limit = n
	}
	if _, err := a.events.authorize(w, r, []string{topic}); err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	snap, err := a.presenceSnapshot(r.Context(), topic, limit)
	if err != nil {
		WriteError(w, r, a.cfg.Logger, err)
		return
	}
	WriteJSON(w, http.StatusOK, snap)
}

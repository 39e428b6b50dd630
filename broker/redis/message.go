package redis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ssevents/ssevents/internal/streamid"
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// Our messages on a channel are JSON in fastapi-sse-events' envelope plus a marker,
// so fastapi-sse-events subscribers can read them too:
//
//	{"ssevents":1,"id":"<ms>-<seq>","event":"<name>","data":<data>}
//
// When the event went to several topics, "mid":"<random>" follows the
// marker: on a cluster the copies may get different ids, and subscribers
// of several of the topics keep one copy by it.
// A message without the marker is a fastapi-sse-events envelope from another publisher.
const msgHead = `{"ssevents":1,"id":"`

// messageParts returns the message before and after the id; mid is the
// multi-topic id or "".
func messageParts(msg sse.Message, mid string) (head, tail string) {
	name, _ := json.Marshal(msg.Event) // a string always marshals
	head = msgHead
	if mid != "" {
		head = `{"ssevents":1,"mid":"` + mid + `","id":"`
	}
	var b strings.Builder
	b.Grow(len(name) + len(msg.Data) + 20)
	b.WriteString(`","event":`)
	b.Write(name)
	b.WriteString(`,"data":`)
	b.Write(msg.Data)
	b.WriteString(`}`)
	return head, b.String()
}

// envelope is a message read from a channel. ID is raw: a foreign
// envelope's id (fastapi-sse-events sets a string, other publishers may
// set a number or null) is never used, so its type does not matter.
type envelope struct {
	SSEvents int             `json:"ssevents"`
	MID      string          `json:"mid"`
	ID       json.RawMessage `json:"id"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
}

// delivery is one event read from a channel or a stream.
type delivery struct {
	ev    sse.Event
	id    streamid.ID
	hasID bool   // false for a foreign (fastapi-sse-events) envelope, which has no place in history
	mid   string // set when published to several topics: the copies share it
}

func deliveryID(d delivery) streamid.ID { return d.id }

// copyKey tells the copies of a multi-topic event apart from other
// events: their mid, "" for an event without copies.
func copyKey(d delivery) string { return d.mid }

// sameEvent reports whether d and o are copies of one multi-topic event.
func (d delivery) sameEvent(o delivery) bool {
	return d.mid != "" && d.mid == o.mid
}

// decodeMessage reads a channel message: ours, or a fastapi-sse-events
// envelope, which keeps its event name and data and is delivered with no
// id (its own "id", if any, is dropped: ids are ours, so that they are
// ordered and resumable on every instance, and a client that receives the
// event keeps its last ssevents id). The caller sets the topic. An error
// says, in a few words, why the message is not an envelope.
func decodeMessage(payload string, now time.Time) (delivery, error) {
	var env envelope
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		return delivery{}, fmt.Errorf("not a JSON envelope: %w", err)
	}
	if err := sse.ValidateEventName(env.Event); err != nil {
		return delivery{}, err // names the event name and what is wrong with it
	}
	data := env.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	} else {
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return delivery{}, fmt.Errorf("data: %w", err)
		}
		data = buf.Bytes()
	}
	d := delivery{ev: sse.Event{Name: env.Event, Data: data}}
	if env.SSEvents != 1 {
		if env.Event == sse.EventResync || env.Event == sse.EventHeartbeat {
			return delivery{}, fmt.Errorf("event name %q is reserved: %w", env.Event, sse.ErrInvalidEvent)
		}
		d.ev.Time = now
		d.ev.Wire, d.ev.Data = wire.EncodeEvent("", d.ev.Name, d.ev.Data)
		return d, nil
	}
	var rawID string
	if err := json.Unmarshal(env.ID, &rawID); err != nil {
		return delivery{}, fmt.Errorf("id of a marked envelope: %w", err)
	}
	id, err := streamid.Parse(rawID)
	if err != nil {
		return delivery{}, fmt.Errorf("id of a marked envelope: %w", err)
	}
	d.ev.ID, d.id, d.hasID, d.mid = rawID, id, true, env.MID
	d.ev.Time = time.UnixMilli(int64(id.Ms))
	// Encoded once, for every local subscriber of the topic.
	d.ev.Wire, d.ev.Data = wire.EncodeEvent(d.ev.ID, d.ev.Name, d.ev.Data)
	return d, nil
}

// entryDelivery turns a stream entry into a delivery.
func entryDelivery(topic string, e rueidis.XRangeEntry) (delivery, bool) {
	id, err := streamid.Parse(e.ID)
	if err != nil {
		return delivery{}, false
	}
	ev := sse.Event{ID: e.ID, Topic: topic, Name: e.FieldValues["e"], Time: time.UnixMilli(int64(id.Ms))}
	// Encoded once, for every local subscriber of the topic.
	ev.Wire, ev.Data = wire.EncodeEvent(ev.ID, ev.Name, []byte(e.FieldValues["d"]))
	return delivery{ev: ev, id: id, hasID: true, mid: e.FieldValues["m"]}, true
}

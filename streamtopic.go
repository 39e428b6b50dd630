package ssevents

import (
	"github.com/ssevents/ssevents/internal/wire"
	"github.com/ssevents/ssevents/sse"
)

// A stream of several topics tells its client which topic each event came
// on with a "topic: <name>" line (wire.AppendTopic) between the event's id
// and event lines and its data lines; a stream of one topic writes the
// broker's encoding as it is, byte for byte as before the field existed.
//
// The event is still encoded once per publish: a stream of several topics
// writes the shared encoding in two pieces with its own topic line between
// them. On the poller path the three are buffers of one writev, so nothing
// is copied or allocated per event; on the goroutine paths the stream
// copies the encoding into its buffer anyway, and splices the line in as
// it copies. The topic lines are made once per stream, when it opens.

// topicLines returns the topic line of each of topics, in one allocation,
// for a stream of several topics; nil for a stream of one, whose events
// carry no topic line.
func topicLines(topics []string) [][]byte {
	if len(topics) < 2 {
		return nil
	}
	n := 0
	for _, t := range topics {
		n += len("topic: \n") + len(t)
	}
	buf := make([]byte, 0, n)
	lines := make([][]byte, len(topics))
	for i, t := range topics {
		start := len(buf)
		buf = wire.AppendTopic(buf, t)
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines
}

// topicLine returns the topic line of an event delivered to s on topic:
// nil on a stream of one topic, or for an event without a topic (one made
// by hand, or the stream's own notices).
func (s *stream) topicLine(topic string) []byte {
	if s.topicLines == nil || topic == "" {
		return nil
	}
	for i, t := range s.topics {
		if t == topic {
			return s.topicLines[i]
		}
	}
	// A broker delivers an event on one of the stream's topics; this is
	// only for one that would not.
	return wire.AppendTopic(nil, topic)
}

// appendEvent appends ev to dst as s writes it: the broker's encoding,
// shared by every stream that gets it, with s's topic line spliced in on a
// stream of several topics; an event without an encoding is encoded here.
func (s *stream) appendEvent(dst []byte, ev sse.Event) []byte {
	if ev.Wire == nil {
		topic := ""
		if s.topicLines != nil {
			topic = ev.Topic
		}
		return wire.AppendEventTopic(dst, ev.ID, ev.Name, topic, ev.Data)
	}
	line := s.topicLine(ev.Topic)
	if line == nil {
		return append(dst, ev.Wire...)
	}
	off := wire.TopicOffsetOf(ev.Wire, ev.ID, ev.Name)
	dst = append(dst, ev.Wire[:off]...)
	dst = append(dst, line...)
	return append(dst, ev.Wire[off:]...)
}

// appendEventBufs appends ev to bufs, the buffers of one writev, as s
// writes it: the shared encoding, or its two pieces around s's topic line.
// The buffers are kept until written (poller.Conn.Write): the encoding is
// read-only and the topic lines live as long as s.
func (s *stream) appendEventBufs(bufs [][]byte, ev sse.Event) [][]byte {
	if ev.Wire == nil {
		return append(bufs, s.appendEvent(nil, ev))
	}
	line := s.topicLine(ev.Topic)
	if line == nil {
		return append(bufs, ev.Wire)
	}
	off := wire.TopicOffsetOf(ev.Wire, ev.ID, ev.Name)
	return append(bufs, ev.Wire[:off], line, ev.Wire[off:])
}

package wire

import "bytes"

// The "topic" field is ssevents' one extension to the event stream format:
// on a stream of several topics, each event says which topic it was
// delivered on with a line "topic: <name>". It goes after the event's id
// and event lines and before its data lines, so that a person reading the
// stream sees an event's name, topic and payload in that order. The WHATWG
// rules make a client ignore a field it does not know, wherever it stands,
// so EventSource and other SSE readers are unaffected; a stream of one
// topic carries no topic line at all.

// AppendTopic appends the topic line of an event delivered on topic,
// "topic: <topic>\n", to dst and returns the extended buffer. topic is
// written verbatim: the caller must have checked it with ValidField (topic
// names checked by sse.ValidateTopic always pass).
func AppendTopic(dst []byte, topic string) []byte {
	dst = append(dst, "topic: "...)
	dst = append(dst, topic...)
	return append(dst, '\n')
}

// AppendEventTopic is AppendEvent with a topic line (see AppendTopic)
// between the event line and the data lines; an empty topic writes none,
// and the result is then AppendEvent's.
func AppendEventTopic(dst []byte, id, name, topic string, data []byte) []byte {
	if topic == "" {
		return AppendEvent(dst, id, name, data)
	}
	if id != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, id...)
		dst = append(dst, '\n')
	}
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	dst = AppendTopic(dst, topic)
	dst = appendLines(dst, "data: ", data, bytes.IndexByte)
	return append(dst, '\n')
}

// TopicOffset returns where a topic line goes in enc, an event encoded by
// AppendEvent or EncodeEvent: the offset of its first data line, just
// after its id and event lines. enc[:off], the topic line and enc[off:]
// written in that order are what AppendEventTopic encodes, so a stream
// can add the topic to a shared encoding without copying it (three
// buffers of one writev). It reads at most the id and event lines.
func TopicOffset(enc []byte) int {
	off := skipLine(enc, 0, "id: ")
	return skipLine(enc, off, "event: ")
}

// skipLine returns the offset after the line of enc at off when that line
// starts with prefix, else off.
func skipLine(enc []byte, off int, prefix string) int {
	if len(enc)-off < len(prefix) || string(enc[off:off+len(prefix)]) != prefix {
		return off
	}
	i := bytes.IndexByte(enc[off+len(prefix):], '\n')
	if i < 0 {
		return len(enc)
	}
	return off + len(prefix) + i + 1
}

// TopicOffsetOf is TopicOffset for an encoding of an event with id and
// name, such as an sse.Event's Wire: the offset is computed from their
// lengths and checked against enc (a data line must start there), which
// is cheaper than finding the lines' ends; when the check fails it is
// TopicOffset(enc).
func TopicOffsetOf(enc []byte, id, name string) int {
	off := 0
	if id != "" {
		off += len("id: ") + len(id) + 1
	}
	if name != "" {
		off += len("event: ") + len(name) + 1
	}
	if len(enc)-off >= len("data: ") && string(enc[off:off+len("data: ")]) == "data: " && (off == 0 || enc[off-1] == '\n') {
		return off
	}
	return TopicOffset(enc)
}

// AppendWithTopic appends enc, an event encoded by AppendEvent or
// EncodeEvent, to dst with the topic line of topic spliced in at
// TopicOffset; with an empty topic it appends enc as it is.
func AppendWithTopic(dst, enc []byte, topic string) []byte {
	if topic == "" {
		return append(dst, enc...)
	}
	off := TopicOffset(enc)
	dst = append(dst, enc[:off]...)
	dst = AppendTopic(dst, topic)
	return append(dst, enc[off:]...)
}

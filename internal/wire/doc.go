// Package wire writes and reads the text/event-stream format of Server-Sent
// Events, as the WHATWG HTML standard defines it
// (https://html.spec.whatwg.org/multipage/server-sent-events.html).
//
// The encoder is append-style: AppendEvent, AppendComment and AppendRetry
// add to a caller's buffer and allocate only when it lacks capacity. They
// split payloads on every line ending the standard knows (CRLF, CR and LF),
// so no payload or comment can inject a field or an extra event. Event ids
// and names are not escaped; callers check them with ValidField first. The
// encoder never writes a byte order mark.
//
// ssevents adds one field, "topic" (topic.go): on a stream of several
// topics each event names the topic it came on. AppendEventTopic encodes
// it; TopicOffset and AppendWithTopic put it into an encoding made once
// and shared by every stream, without encoding the event again.
//
// The Parser reads a stream the way a browser's EventSource does, with
// three differences: it keeps the topic field (Event.Topic), it does not
// replace invalid UTF-8 with U+FFFD, passing bytes through instead, and it
// bounds memory with a limit on the length of a line and on the data of
// one event.
//
// The package depends on the standard library only.
//
// It imports the standard library only.
package wire
